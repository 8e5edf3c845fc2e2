//! The egui user interface.
pub fn run(_dir: Option<std::path::PathBuf>, _args: crate::cli::GuiArgs) -> anyhow::Result<()> {
    Ok(())
}
