//! `collapse run --config FILE.toml`: a run's settings in a TOML file, keyed
//! by the flags' names (`epochs = 3`, `real_fraction = 0.1` or
//! `real-fraction = 0.1`, `stream = true`, `hidden = [512, 256]`).
//!
//! The file's settings become flags placed before the command line's, so
//! clap checks them as it checks typed flags, and a flag given on the command
//! line replaces the file's. A key that is no flag of `run`, a value of the
//! wrong type or one clap refuses is one line naming the file and the key,
//! before any work; so is a value the chain's checks refuse later (see
//! [`FileSettings::refused`]).

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::CommandFactory;

use super::Cli;

/// The flags of a run that came from a config file, and where they came from.
#[derive(Clone, Debug, Default)]
pub struct FileSettings {
    /// The file (or the study's run) the settings came from, as a message names it.
    pub origin: Option<String>,
    /// Each setting taken from it: its long flag name (`real-fraction`) and
    /// the key as the file spells it (`real_fraction`).
    pub keys: Vec<(String, String)>,
}

impl FileSettings {
    /// A refusal of the value of `flag` (`--real-fraction`), named by the
    /// file and key where the value came from the file, else by the flag.
    pub fn refused(&self, flag: &str, message: impl std::fmt::Display) -> anyhow::Error {
        let name = flag.trim_start_matches("--");
        match (&self.origin, self.keys.iter().find(|(f, _)| f == name)) {
            (Some(origin), Some((_, key))) => anyhow!("{origin}: {key}: {message}"),
            _ => anyhow!("{flag}: {message}"),
        }
    }
}

/// The long names of `run`'s flags that a file may set.
fn run_flags() -> Vec<String> {
    let cli = Cli::command();
    let run = cli
        .find_subcommand("run")
        .expect("collapse has a run command");
    run.get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .filter(|name| !["config", "resume", "help"].contains(&name.as_str()))
        .collect()
}

/// Whether `args` (a command line after `run`) gives flag `name`.
fn given(args: &[OsString], name: &str) -> bool {
    let flag = format!("--{name}");
    let with_value = format!("--{name}=");
    args.iter().any(|a| {
        let a = a.to_string_lossy();
        a == flag || a.starts_with(&with_value)
    })
}

/// The command-line words of one setting: `--flag value`, `--flag` for a
/// true switch, nothing for a false one.
fn words(
    origin: &str,
    key: &str,
    flag: &str,
    value: &toml::Value,
    switch: bool,
) -> anyhow::Result<Vec<String>> {
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(x) => Some(x.to_string()),
        _ => None,
    };
    let wrong = |expected: &str| {
        anyhow!(
            "{origin}: {key}: expected {expected}, got {}",
            value.type_str()
        )
    };
    if switch {
        return match value {
            toml::Value::Boolean(true) => Ok(vec![format!("--{flag}")]),
            toml::Value::Boolean(false) => Ok(Vec::new()),
            _ => Err(wrong("true or false")),
        };
    }
    let text = match value {
        toml::Value::Array(items) => items
            .iter()
            .map(scalar)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(","))
            .ok_or_else(|| wrong("a list of numbers or strings"))?,
        v => scalar(v).ok_or_else(|| wrong("a number or a string"))?,
    };
    Ok(vec![format!("--{flag}"), text])
}

/// The value of `--config` in `args` (after `run`), if given.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let text = a.to_string_lossy();
        if text == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    None
}

/// Where `run` is in a command line, if it is the command.
fn run_position(argv: &[OsString]) -> Option<usize> {
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].to_string_lossy();
        match a.as_ref() {
            "run" => return Some(i),
            "--threads" => i += 2,
            _ if a.starts_with("--threads=") => i += 1,
            _ => return None,
        }
    }
    None
}

/// `argv` with a run's config file read into flags before the command
/// line's own, and which flags came from the file. A command line without
/// `run --config` comes back as it is.
pub fn expand(argv: Vec<OsString>) -> anyhow::Result<(Vec<OsString>, FileSettings)> {
    let Some(at) = run_position(&argv) else {
        return Ok((argv, FileSettings::default()));
    };
    let rest = &argv[at + 1..];
    let Some(file) = config_path(rest) else {
        return Ok((argv, FileSettings::default()));
    };
    let text = std::fs::read_to_string(&file).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| anyhow!("{}: {}", file.display(), e.message().trim()))?;
    let origin = file.display().to_string();
    let (inserted, settings) = setting_words(&origin, &table, rest)?;
    let mut out: Vec<OsString> = argv[..=at].to_vec();
    out.extend(inserted.into_iter().map(OsString::from));
    out.extend(rest.iter().cloned());
    Ok((out, settings))
}

/// The flags of `run` that the settings `table` (keyed by the flags' names)
/// stand for, leaving out those that `given_line` (a command line after
/// `run`) sets itself; and which flags they are, from `origin`. An unknown
/// key, a value of the wrong type or one clap refuses is an error naming
/// `origin` and the key.
pub fn setting_words(
    origin: &str,
    table: &toml::Table,
    given_line: &[OsString],
) -> anyhow::Result<(Vec<String>, FileSettings)> {
    let flags = run_flags();
    let cli = Cli::command();
    let run = cli
        .find_subcommand("run")
        .expect("collapse has a run command");
    let mut inserted: Vec<String> = Vec::new();
    let mut keys = Vec::new();
    for (key, value) in table {
        let flag = key.replace('_', "-");
        if !flags.contains(&flag) {
            return Err(anyhow!("{origin}: {key}: not a setting of collapse run"));
        }
        // The command line's flag, or its opposite switch, replaces the file's.
        let opposite = flag
            .strip_prefix("no-")
            .map_or(format!("no-{flag}"), str::to_string);
        if given(given_line, &flag) || (flags.contains(&opposite) && given(given_line, &opposite)) {
            continue;
        }
        let arg = run
            .get_arguments()
            .find(|a| a.get_long() == Some(flag.as_str()))
            .expect("listed above");
        let switch = !arg.get_action().takes_values();
        let mine = words(origin, key, &flag, value, switch)?;
        check_one(origin, key, &mine)?;
        inserted.extend(mine);
        keys.push((flag, key.clone()));
    }
    let settings = FileSettings {
        origin: Some(origin.to_string()),
        keys,
    };
    Ok((inserted, settings))
}

/// Lets clap check one setting from the file on its own, so that a value it
/// refuses is named by the file and the key.
fn check_one(origin: &str, key: &str, words: &[String]) -> anyhow::Result<()> {
    let mut argv = vec!["collapse".to_string(), "run".to_string()];
    argv.extend(words.iter().cloned());
    match Cli::command().try_get_matches_from(&argv) {
        Ok(_) => Ok(()),
        Err(e) => {
            let rendered = e.render().to_string();
            let line = rendered.lines().next().unwrap_or_default();
            let reason = line.trim_start_matches("error: ");
            Err(anyhow!("{origin}: {key}: {reason}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    fn config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn file_flags_go_before_the_command_lines() {
        let (_dir, path) = config(
            "epochs = 3\nreal_fraction = 0.25\nstream = true\nno_eval = false\nhidden = [512, 256]\n",
        );
        let line = format!(
            "collapse --threads 2 run --config {} --epochs 5",
            path.display()
        );
        let (out, settings) = expand(argv(&line)).unwrap();
        let out: Vec<String> = out
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let config = path.display().to_string();
        let expected = [
            "collapse",
            "--threads",
            "2",
            "run",
            "--hidden",
            "512,256",
            "--real-fraction",
            "0.25",
            "--stream",
            "--config",
            &config,
            "--epochs",
            "5",
        ];
        assert_eq!(out, expected);
        let keys: Vec<&str> = settings.keys.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(keys, ["hidden", "no_eval", "real_fraction", "stream"]);
        let refused = settings
            .refused("--real-fraction", "must be within [0, 1]")
            .to_string();
        assert_eq!(
            refused,
            format!("{config}: real_fraction: must be within [0, 1]")
        );
        assert_eq!(
            settings.refused("--epochs", "too many").to_string(),
            "--epochs: too many"
        );
    }

    #[test]
    fn bad_files_name_the_file_and_the_key() {
        let err = |text: &str| {
            let (_dir, path) = config(text);
            let line = format!("collapse run --config {}", path.display());
            expand(argv(&line)).unwrap_err().to_string()
        };
        assert!(
            err("epoch = 3").ends_with("run.toml: epoch: not a setting of collapse run"),
            "{}",
            err("epoch = 3")
        );
        let e = err("epochs = \"ten\"");
        assert!(
            e.contains("run.toml: epochs: invalid value 'ten' for '--epochs"),
            "{e}"
        );
        let e = err("stream = 1");
        assert!(
            e.ends_with("run.toml: stream: expected true or false, got integer"),
            "{e}"
        );
        let e = err("seed = { a = 1 }");
        assert!(
            e.ends_with("run.toml: seed: expected a number or a string, got table"),
            "{e}"
        );
        let e = err("epochs = ");
        assert!(e.contains("run.toml: "), "{e}");
        let e = err("resume = \"x\"");
        assert!(e.ends_with("resume: not a setting of collapse run"), "{e}");
        let missing = expand(argv("collapse run --config /nonexistent/run.toml"))
            .unwrap_err()
            .to_string();
        assert!(missing.starts_with("/nonexistent/run.toml: "), "{missing}");
    }

    #[test]
    fn other_commands_pass_through() {
        let line = argv("collapse theory gmm --config x");
        assert_eq!(expand(line.clone()).unwrap().0, line);
        let line = argv("collapse run --epochs 2");
        assert_eq!(expand(line.clone()).unwrap().0, line);
    }
}
