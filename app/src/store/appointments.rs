//! Follow-up appointments: booked offline into the case document, listed per
//! day by reading the cases (the model keeps appointments in the case, so
//! there is no second place that could disagree).

use rust_i18n::t;
use serde::Serialize;
use sprechtag_schemas::{Appointment, Case, IsoDate, new_id};

use super::{CaseFilter, Result, Store, StoreError};

/// What the caseworker enters to book a follow-up appointment.
#[derive(Debug, Clone)]
pub struct NewAppointment {
    pub date: IsoDate,
    /// `HH:MM`, 24-hour clock.
    pub time: String,
    /// The main office or the place of a later office hour; may be empty when
    /// `office_hour_id` is given, then the office hour's place is used.
    pub place: String,
    /// The office hour at which the appointment takes place, if any.
    pub office_hour_id: Option<String>,
    pub purpose: String,
}

/// One line of the day list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppointmentRow {
    pub case_id: String,
    pub case_number: String,
    /// "Surname, Given names".
    pub name: String,
    pub appointment: Appointment,
}

/// `HH:MM` with a real hour and minute, normalised to two digits each
/// ("9:30" becomes "09:30").
pub fn parse_time(text: &str) -> Result<String> {
    let bad = || StoreError::Invalid(t!("store.bad_time", time = format!("{text:?}")).into_owned());
    let (hours, minutes) = text.trim().split_once(':').ok_or_else(bad)?;
    let digits = |s: &str, max: u32, len: std::ops::RangeInclusive<usize>| {
        if len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse::<u32>().ok().filter(|v| *v <= max)
        } else {
            None
        }
    };
    let hours = digits(hours, 23, 1..=2).ok_or_else(bad)?;
    let minutes = digits(minutes, 59, 2..=2).ok_or_else(bad)?;
    Ok(format!("{hours:02}:{minutes:02}"))
}

impl Store {
    /// Books a follow-up appointment into the case (durably, like every
    /// edit) and returns it. The date must not be in the past; an office
    /// hour, if given, must exist and take place on that date.
    pub fn book_appointment(
        &mut self,
        case_id_or_number: &str,
        new: NewAppointment,
    ) -> Result<(Case, Appointment)> {
        let time = parse_time(&new.time)?;
        if new.date < IsoDate::today() {
            return Err(StoreError::Invalid(
                t!("store.date_past", date = new.date.to_german()).into_owned(),
            ));
        }
        let mut place = new.place.trim().to_string();
        if let Some(office_hour_id) = &new.office_hour_id {
            let office_hour = self.office_hour(office_hour_id)?;
            if office_hour.date != new.date {
                return Err(StoreError::Invalid(
                    t!(
                        "store.office_hour_other_day",
                        office_hour = office_hour_id,
                        on = office_hour.date.to_german(),
                        date = new.date.to_german()
                    )
                    .into_owned(),
                ));
            }
            if place.is_empty() {
                place = office_hour.place();
            }
        }
        if place.is_empty() {
            return Err(StoreError::Invalid(t!("store.place_missing").into_owned()));
        }
        let purpose = new.purpose.trim().to_string();
        if purpose.is_empty() {
            return Err(StoreError::Invalid(
                t!("store.purpose_missing").into_owned(),
            ));
        }
        let appointment = Appointment {
            id: new_id(),
            date: new.date,
            time,
            place,
            office_hour_id: new.office_hour_id,
            purpose,
        };
        let booked = appointment.clone();
        let message = format!("book appointment {}", appointment.date);
        let case = self.update_case(case_id_or_number, &message, move |case| {
            case.appointments.push(appointment);
            Ok(())
        })?;
        Ok((case, booked))
    }

    /// The ids of every case, page by page from the index.
    pub(super) fn all_case_ids(&mut self) -> Result<Vec<String>> {
        const PAGE: usize = 500;
        let mut ids = Vec::new();
        let mut offset = 0;
        loop {
            let page = self.list_cases(&CaseFilter {
                offset,
                limit: PAGE,
                ..CaseFilter::default()
            })?;
            let count = page.rows.len();
            ids.extend(page.rows.into_iter().map(|r| r.id));
            offset += count;
            if count < PAGE || offset >= page.total {
                break;
            }
        }
        Ok(ids)
    }

    /// Every appointment on `date` across all cases, by time.
    pub fn appointments_on(&mut self, date: IsoDate) -> Result<Vec<AppointmentRow>> {
        let mut rows = Vec::new();
        for id in self.all_case_ids()? {
            let case = self.case(&id)?;
            for appointment in case.appointments.iter().filter(|a| a.date == date) {
                rows.push(AppointmentRow {
                    case_id: case.id.clone(),
                    case_number: case.number.clone(),
                    name: case.citizen.display_name(),
                    appointment: appointment.clone(),
                });
            }
        }
        rows.sort_by(|a, b| {
            (&a.appointment.time, &a.case_number).cmp(&(&b.appointment.time, &b.case_number))
        });
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_are_checked_and_normalised() {
        assert_eq!(parse_time("9:30").ok().as_deref(), Some("09:30"));
        assert_eq!(parse_time("23:59").ok().as_deref(), Some("23:59"));
        for bad in [
            "24:00", "12:60", "12", "12:5", "ab:cd", "", "1:2:3", "-1:30",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?} accepted");
        }
    }
}
