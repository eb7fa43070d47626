//! One command of a model run as a process of its own: no shell, standard
//! input closed, standard output and standard error each in its log file,
//! and (on Unix) in a process group of its own. The whole group is ended when
//! the command runs past its time limit, when this process lets go of it
//! early (an error, an unwinding panic), when the command exits leaving
//! processes behind, and when this process is asked to end (an interrupt, a
//! hang-up, a termination), so a model never outlives the step that started
//! it. Where this process is killed outright, the kernel ends the command
//! itself (on Linux), and [`end_leftovers`] ends what it started once the
//! step is taken up again.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What to run and where.
#[derive(Clone, Debug)]
pub struct Invocation<'a> {
    /// The program and its arguments.
    pub argv: &'a [String],
    /// The working folder.
    pub dir: &'a Path,
    /// Variables added to the environment.
    pub env: &'a [(String, String)],
    /// Where its standard output goes (created, or truncated).
    pub stdout: &'a Path,
    /// Where its standard error goes (created, or truncated).
    pub stderr: &'a Path,
    /// The longest it may run.
    pub timeout: Option<Duration>,
}

/// A command that exited with success.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Finished {
    /// Its exit status (0).
    pub code: i32,
    /// Its wall time.
    pub seconds: f64,
}

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The program could not be started.
    #[error("cannot start {program}: {source}")]
    Start {
        /// The program as given.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// A log file could not be made or read, or the process not waited for.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It exited with failure, or was ended by a signal.
    #[error("{status}{}", tail_words(tail, stderr))]
    Failed {
        /// Its exit status in words.
        status: String,
        /// The last lines of its standard error.
        tail: String,
        /// Its standard error's log.
        stderr: PathBuf,
    },
    /// It ran past its time limit and was ended with its process group.
    #[error("ran past its limit of {} s and was ended{}", limit.as_secs_f64(), tail_words(tail, stderr))]
    TimedOut {
        /// The limit.
        limit: Duration,
        /// The last lines of its standard error.
        tail: String,
        /// Its standard error's log.
        stderr: PathBuf,
    },
}

/// `; its last lines: …; whole log: FILE`, or nothing for an empty log.
fn tail_words(tail: &str, log: &Path) -> String {
    match tail.is_empty() {
        true => format!(" (nothing on its stderr, {})", log.display()),
        false => format!("; its stderr ends: {tail} ({})", log.display()),
    }
}

/// Lines of standard error a failure shows, and their most characters.
const TAIL_LINES: usize = 5;
const TAIL_CHARS: usize = 800;

/// The longest pause between two looks at a running command.
const MAX_POLL: Duration = Duration::from_millis(20);

/// The process groups of the commands running now: the groups a request to
/// end this process ends first.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// The signals that ask this process to end.
#[cfg(unix)]
const TERMINATING: [i32; 3] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
];

/// Ends every running command's group when this process is asked to end,
/// then ends this process as the request would have: a thread, started
/// once, that waits for the request. Where the signals cannot be watched, a
/// command's leader still ends with this process (on Linux).
#[cfg(unix)]
fn watch_termination() {
    static WATCH: std::sync::Once = std::sync::Once::new();
    WATCH.call_once(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new(TERMINATING) else {
            return;
        };
        let watcher = move || {
            for signal in signals.forever() {
                let groups = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
                for &group in groups.iter() {
                    end_group(group);
                }
                // The signal's own action ends this process.
                let _ = signal_hook::low_level::emulate_default_handler(signal);
            }
        };
        let _ = std::thread::Builder::new()
            .name("external-model-signals".to_string())
            .spawn(watcher);
    });
}

/// Ends every process of the group `group` (which may be gone already).
#[cfg(unix)]
fn end_group(group: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(group as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// A started command whose process group is ended when it is dropped
/// unreaped.
struct Running {
    child: Child,
    reaped: bool,
}

impl Running {
    /// Ends every process of the command's group (on Unix; elsewhere the command itself).
    fn end_group(&mut self) {
        #[cfg(unix)]
        end_group(self.child.id());
        if !self.reaped {
            let _ = self.child.kill();
        }
    }

    /// The exit status, or `None` once `deadline` has passed.
    fn wait_until(&mut self, deadline: Option<Instant>) -> std::io::Result<Option<ExitStatus>> {
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.reaped = true;
                return Ok(Some(status));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(MAX_POLL);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.end_group();
        if !self.reaped {
            let _ = self.child.wait();
        }
        let id = self.child.id();
        RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&g| g != id);
    }
}

/// Makes the command's leader end when this process does, even when this
/// process is killed outright and can end nothing itself.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn end_with_this_process(command: &mut Command) {
    // SAFETY: the closure runs in the forked child before `exec` and makes
    // one system call, which is async-signal-safe; it touches no memory.
    // The thread that spawns the command waits for it, so "the parent"
    // (the spawning thread, for this setting) lives exactly as long as the
    // wait does.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
}

/// Runs `call` to its end; success is exit status 0.
pub fn run(call: &Invocation<'_>) -> Result<Finished, RunError> {
    let log = |path: &Path| {
        File::create(path).map_err(|source| RunError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let (stdout, stderr) = (log(call.stdout)?, log(call.stderr)?);
    let (program, args) = call.argv.split_first().ok_or_else(|| RunError::Start {
        program: String::new(),
        source: std::io::ErrorKind::InvalidInput.into(),
    })?;
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(call.dir)
        .envs(call.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    #[cfg(unix)]
    {
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        watch_termination();
    }
    #[cfg(target_os = "linux")]
    end_with_this_process(&mut command);
    let started = Instant::now();
    // Registered before a request to end this process can see the child.
    let mut running_now = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let child = command.spawn().map_err(|source| RunError::Start {
        program: program.clone(),
        source,
    })?;
    running_now.push(child.id());
    drop(running_now);
    let mut running = Running {
        child,
        reaped: false,
    };
    let waited = running
        .wait_until(call.timeout.map(|t| started + t))
        .map_err(|source| RunError::Io {
            path: call.stderr.to_path_buf(),
            source,
        })?;
    // Whatever the command left running in its group ends with it.
    running.end_group();
    let tail = tail(call.stderr);
    match waited {
        None => Err(RunError::TimedOut {
            limit: call.timeout.unwrap_or_default(),
            tail,
            stderr: call.stderr.to_path_buf(),
        }),
        Some(status) if status.success() => Ok(Finished {
            code: status.code().unwrap_or_default(),
            seconds: started.elapsed().as_secs_f64(),
        }),
        Some(status) => Err(RunError::Failed {
            status: status_words(status),
            tail,
            stderr: call.stderr.to_path_buf(),
        }),
    }
}

/// Ends every process of this user whose environment holds `name=value`
/// (other than this process): what the commands of a step left running when
/// the process that ran them was killed outright, found by a variable each
/// of them was given. Returns how many were ended. Reads `/proc`, so it ends
/// nothing where there is none.
pub fn end_leftovers(name: &str, value: &str) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let wanted = format!("{name}={value}");
    let own = std::process::id();
    let mut ended = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own {
            continue;
        }
        // A process of another user, or one that ended meanwhile, is skipped.
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|&b| b == 0).any(|v| v == wanted.as_bytes()) {
            #[cfg(unix)]
            if let Some(pid) = rustix::process::Pid::from_raw(pid as i32)
                && rustix::process::kill_process(pid, rustix::process::Signal::KILL).is_ok()
            {
                ended += 1;
            }
        }
    }
    ended
}

/// An exit status in words: `exited with 3`, `ended by signal 9`.
fn status_words(status: ExitStatus) -> String {
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return format!("ended by signal {signal}");
    }
    match status.code() {
        Some(code) => format!("exited with {code}"),
        None => status.to_string(),
    }
}

/// The last few lines of the log at `path`, on one line (` | ` between them).
fn tail(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let from = len.saturating_sub(4 * TAIL_CHARS as u64);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(from)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let joined = lines[lines.len().saturating_sub(TAIL_LINES)..].join(" | ");
    let skip = joined.chars().count().saturating_sub(TAIL_CHARS);
    joined.chars().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `sh -c SCRIPT` in `dir` with `args` after it ($1, $2, …).
    fn sh(
        dir: &Path,
        script: &str,
        args: &[&str],
        timeout: Option<Duration>,
    ) -> Result<Finished, RunError> {
        let mut argv = vec![
            "sh".to_string(),
            "-c".to_string(),
            script.to_string(),
            "sh".to_string(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        let env = [("COLLAPSE_TEST_VALUE".to_string(), "x y".to_string())];
        run(&Invocation {
            argv: &argv,
            dir,
            env: &env,
            stdout: &dir.join("out.log"),
            stderr: &dir.join("err.log"),
            timeout,
        })
    }

    /// Whether the process whose id the file `pid_file` holds has ended
    /// within two seconds (a zombie has ended).
    fn ends(pid_file: &Path) -> bool {
        let pid = std::fs::read_to_string(pid_file).unwrap();
        let stat = format!("/proc/{}/stat", pid.trim());
        (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !std::fs::read_to_string(&stat)
                .is_ok_and(|s| !s.split(") ").nth(1).unwrap_or("").starts_with('Z'))
        })
    }

    #[test]
    fn a_command_gets_its_arguments_and_environment_and_logs_its_output() {
        let tmp = tempfile::tempdir().unwrap();
        let hostile = "a b; touch pwned 'q' \"$(touch pwned2)\"";
        let done = sh(
            tmp.path(),
            "printf '%s\\n' \"$1\" \"$COLLAPSE_TEST_VALUE\" > args.txt; echo out; echo err >&2",
            &[hostile],
            None,
        )
        .unwrap();
        assert!(done.seconds > 0.0);
        let args = std::fs::read_to_string(tmp.path().join("args.txt")).unwrap();
        assert_eq!(args, format!("{hostile}\nx y\n"));
        assert!(!tmp.path().join("pwned").exists() && !tmp.path().join("pwned2").exists());
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("out.log")).unwrap(),
            "out\n"
        );
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("err.log")).unwrap(),
            "err\n"
        );
    }

    #[test]
    fn a_failure_says_its_status_and_the_end_of_its_stderr() {
        let tmp = tempfile::tempdir().unwrap();
        let script = "for i in 1 2 3 4 5 6 7; do echo line $i >&2; done; exit 3";
        let err = sh(tmp.path(), script, &[], None).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "exited with 3; its stderr ends: line 3 | line 4 | line 5 | line 6 | line 7 ("
            ),
            "{err}"
        );
        let err = sh(tmp.path(), "kill -9 $$", &[], None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("ended by signal 9 (nothing on its stderr"),
            "{err}"
        );
        let missing = run(&Invocation {
            argv: &["no-such-program-of-collapse".to_string()],
            dir: tmp.path(),
            env: &[],
            stdout: &tmp.path().join("o"),
            stderr: &tmp.path().join("e"),
            timeout: None,
        })
        .unwrap_err()
        .to_string();
        assert!(
            missing.starts_with("cannot start no-such-program-of-collapse: "),
            "{missing}"
        );
    }

    #[test]
    fn a_command_past_its_limit_ends_with_its_whole_group() {
        let tmp = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let script = "sleep 30 & echo $! > child.pid; echo waiting >&2; sleep 30";
        let err = sh(tmp.path(), script, &[], Some(Duration::from_millis(500))).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(err, RunError::TimedOut { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("ran past its limit of 0.5 s and was ended; its stderr ends: waiting"),
            "{err}"
        );
        assert!(
            ends(&tmp.path().join("child.pid")),
            "its background process still runs"
        );
    }

    #[test]
    fn leftovers_are_found_by_their_variable_and_ended() {
        let tmp = tempfile::tempdir().unwrap();
        let value = tmp.path().display().to_string();
        let mut left = Command::new("sh")
            .args(["-c", "sleep 30 & echo $! > child.pid; wait"])
            .current_dir(tmp.path())
            .env("COLLAPSE_TEST_LEFTOVER", &value)
            .spawn()
            .unwrap();
        let other = Command::new("sleep")
            .arg("30")
            .env("COLLAPSE_TEST_LEFTOVER", format!("{value}-other"))
            .spawn()
            .unwrap();
        let pid_file = tmp.path().join("child.pid");
        while !std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n')) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(end_leftovers("COLLAPSE_TEST_LEFTOVER", &value), 2);
        assert!(!left.wait().unwrap().success());
        assert!(ends(&pid_file), "the leftover still runs");
        let mut other = Running {
            child: other,
            reaped: false,
        };
        assert!(
            other.child.try_wait().unwrap().is_none(),
            "another value's process is left alone"
        );
        other.end_group();
    }

    #[test]
    fn what_a_successful_command_leaves_running_is_ended() {
        let tmp = tempfile::tempdir().unwrap();
        sh(tmp.path(), "sleep 30 & echo $! > child.pid", &[], None).unwrap();
        assert!(
            ends(&tmp.path().join("child.pid")),
            "its background process still runs"
        );
    }
}
