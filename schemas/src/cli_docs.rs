//! Man pages and shell completions from a binary's clap definitions, for
//! the Debian packages (`packaging/build-debs.sh` runs each binary's hidden
//! `generate-docs`): one page per command and subcommand, so that
//! `man sprechtag-server` and `man sprechtag-server-device-enrol` document
//! what `--help` says.

use std::path::Path;

/// Writes `OUT/man/*.1` and `OUT/completions/{NAME.bash, _NAME, NAME.fish}`.
pub fn generate(command: clap::Command, out: &Path) -> std::io::Result<()> {
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    clap_mangen::generate_to(command.clone(), &man)?;
    let name = command.get_name().to_string();
    let mut command = command;
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        clap_complete::generate_to(shell, &mut command, &name, &completions)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_visible_subcommand_gets_a_page_and_every_shell_a_completion() {
        let command = clap::Command::new("tool")
            .version("1.0")
            .about("A tool")
            .subcommand(
                clap::Command::new("device")
                    .about("Devices")
                    .subcommand(clap::Command::new("enrol").about("Enrol one")),
            )
            .subcommand(clap::Command::new("secret").hide(true));
        let temp = tempfile::tempdir().expect("dir");
        let dir = temp.path();
        super::generate(command, dir).expect("generate");
        let mut pages: Vec<String> = std::fs::read_dir(dir.join("man"))
            .expect("man")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        pages.sort();
        assert_eq!(pages, ["tool-device-enrol.1", "tool-device.1", "tool.1"]);
        let main = std::fs::read_to_string(dir.join("man/tool.1")).expect("page");
        assert!(main.contains("tool\\-device"), "{main}");
        assert!(!main.contains("secret"), "{main}");
        for file in ["tool.bash", "_tool", "tool.fish"] {
            let text = std::fs::read_to_string(dir.join("completions").join(file)).expect(file);
            assert!(text.contains("enrol"), "{file}: {text}");
        }
    }
}
