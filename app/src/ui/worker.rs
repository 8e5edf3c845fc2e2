//! The store's own thread. The UI sends requests and never waits: replies
//! come back through a channel, and each one asks egui for a repaint. Saves
//! of the same case are coalesced to the newest, and every save is
//! acknowledged only after its transaction is on disk.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use sprechtag_schemas::{Case, Catalog, OfficeHour, OfficeHourSummary};

use crate::store::{CaseFilter, CasePage, Device, NewOfficeHour, OfficeHourRow, Store, StoreError};

#[derive(Debug)]
pub enum Request {
    Unlock { passphrase: String },
    OfficeHours,
    OpenOfficeHour(NewOfficeHour),
    CloseOfficeHour(String),
    Summary(String),
    Cases { filter: CaseFilter, generation: u64 },
    LoadCase(String),
    CreateCase { draft: Case, seq: u64 },
    SaveCase { case: Case, seq: u64 },
}

#[derive(Debug)]
pub enum Reply {
    Unlocked {
        device: Device,
        catalog: std::sync::Arc<Catalog>,
    },
    UnlockFailed(StoreError),
    OfficeHours(Vec<OfficeHourRow>),
    OfficeHourOpened(OfficeHour),
    OfficeHourClosed(OfficeHour),
    Summary {
        id: String,
        summary: OfficeHourSummary,
    },
    Cases {
        page: CasePage,
        generation: u64,
    },
    CaseLoaded(Case),
    CaseCreated {
        case: Case,
        seq: u64,
    },
    CaseSaved {
        case: Case,
        seq: u64,
    },
    SaveFailed {
        case_id: String,
        seq: u64,
        error: String,
    },
    Failed(String),
}

pub struct Worker {
    requests: Option<Sender<Request>>,
    replies: Receiver<Reply>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Worker")
    }
}

impl Worker {
    /// Starts the thread for the data in `dir`; `wake` is called after every reply.
    pub fn spawn(dir: PathBuf, wake: impl Fn() + Send + 'static) -> Worker {
        let (request_tx, request_rx) = channel();
        let (reply_tx, reply_rx) = channel();
        let thread = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || serve(dir, request_rx, reply_tx, wake))
            .ok();
        Worker {
            requests: Some(request_tx),
            replies: reply_rx,
            thread,
        }
    }

    pub fn send(&self, request: Request) {
        if let Some(requests) = &self.requests {
            // The thread only ends when this sender is dropped.
            let _ = requests.send(request);
        }
    }

    pub fn try_recv(&self) -> Option<Reply> {
        self.replies.try_recv().ok()
    }
}

impl Drop for Worker {
    /// Closing the window waits until every queued save is on disk.
    fn drop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(dir: PathBuf, requests: Receiver<Request>, replies: Sender<Reply>, wake: impl Fn()) {
    let mut store: Option<Store> = None;
    let mut queue: Vec<Request> = Vec::new();
    loop {
        if queue.is_empty() {
            match requests.recv() {
                Ok(request) => queue.push(request),
                Err(_) => return,
            }
        }
        // Take whatever else is waiting, so that a burst of keystrokes on one
        // case becomes one save of its newest state.
        queue.extend(requests.try_iter());
        let request = queue.remove(0);
        let request = match request {
            Request::SaveCase { case, seq } => {
                let newer = queue.iter().position(
                    |r| matches!(r, Request::SaveCase { case: c, .. } if c.id == case.id),
                );
                // The newer save carries this one's content too; only it is
                // acknowledged, once it is on disk.
                match newer {
                    Some(index) => queue.remove(index),
                    None => Request::SaveCase { case, seq },
                }
            }
            other => other,
        };
        let reply = handle(&dir, &mut store, request);
        if replies.send(reply).is_err() {
            return;
        }
        wake();
    }
}

fn handle(dir: &std::path::Path, store: &mut Option<Store>, request: Request) -> Reply {
    if let Request::Unlock { passphrase } = request {
        return unlock(dir, store, &passphrase);
    }
    let Some(store) = store.as_mut() else {
        return Reply::Failed("locked".into());
    };
    let failed = |e: StoreError| Reply::Failed(e.to_string());
    match request {
        Request::Unlock { .. } => Reply::Failed("already unlocked".into()),
        Request::OfficeHours => store.office_hours().map_or_else(failed, Reply::OfficeHours),
        Request::OpenOfficeHour(new) => store
            .open_office_hour(new)
            .map_or_else(failed, Reply::OfficeHourOpened),
        Request::CloseOfficeHour(id) => store
            .close_office_hour(&id)
            .map_or_else(failed, Reply::OfficeHourClosed),
        Request::Summary(id) => store
            .office_hour_summary(&id)
            .map_or_else(failed, |summary| Reply::Summary { id, summary }),
        Request::Cases { filter, generation } => store
            .list_cases(&filter)
            .map_or_else(failed, |page| Reply::Cases { page, generation }),
        Request::LoadCase(id) => store.case(&id).map_or_else(failed, Reply::CaseLoaded),
        Request::CreateCase { draft, seq } => match store.create_case(draft) {
            Ok(case) => Reply::CaseCreated { case, seq },
            Err(e) => Reply::SaveFailed {
                case_id: String::new(),
                seq,
                error: e.to_string(),
            },
        },
        Request::SaveCase { case, seq } => {
            let case_id = case.id.clone();
            match store.save_case(case) {
                Ok(case) => Reply::CaseSaved { case, seq },
                Err(e) => Reply::SaveFailed {
                    case_id,
                    seq,
                    error: e.to_string(),
                },
            }
        }
    }
}

fn unlock(dir: &std::path::Path, store: &mut Option<Store>, passphrase: &str) -> Reply {
    let catalog = match crate::catalog::load(dir) {
        Ok(catalog) => catalog,
        Err(e) => return Reply::UnlockFailed(StoreError::Catalog(e)),
    };
    let opened = if Store::exists(dir) {
        Store::open(dir, passphrase, catalog.clone())
    } else {
        Store::create(dir, passphrase, catalog.clone())
    };
    match opened {
        Ok(opened) => {
            let device = opened.device().clone();
            *store = Some(opened);
            Reply::Unlocked { device, catalog }
        }
        Err(e) => Reply::UnlockFailed(e),
    }
}
