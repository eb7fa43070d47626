//! The command protocol's reliability: every bad output of a model's command
//! ends the run in one line keeping its complete generations, a killed chain
//! takes its model's processes with it, `--resume` ends what an outright kill
//! left and redoes the generation, and the manifest records every command.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::model::vae_commands;
use crate::util::{TempDir, assert_fails, assert_ok, collapse, run_args};

/// A chain of three generations (0, 1, 2) small enough for many runs.
const SMALL: [&str; 11] = [
    "--train-size",
    "256",
    "--test-size",
    "500",
    "--generations",
    "2",
    "--epochs",
    "1",
    "--probe-samples",
    "100",
    "--no-eval",
];

/// Writes `count` images of `dims` whose every pixel is `value`, as `.npy`.
fn images(path: &Path, count: usize, dims: [usize; 2], value: f32) {
    let pixels: Vec<f32> = (0..count * dims[0] * dims[1])
        .map(|i| match value.is_nan() {
            true if i == 3 * 784 + 5 => f32::NAN,
            true => 0.5,
            false => value,
        })
        .collect();
    collapse_data::write_images(path, &pixels, count, dims).unwrap();
}

/// Writes 100 images of 28x28 as `float64` `.npy`, by hand.
fn float64_images(path: &Path) {
    let mut header =
        "{'descr': '<f8', 'fortran_order': False, 'shape': (100, 28, 28), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for _ in 0..100 * 784 {
        bytes.extend(0.5f64.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

/// `collapse run` of `SMALL` into `out` with the external model's two commands.
fn chain(out: &Path, train: &str, sample: &str, extra: &[&str]) -> Vec<String> {
    let mut flags = SMALL.to_vec();
    flags.extend(["--external-train", train, "--external-sample", sample]);
    flags.extend(extra);
    run_args(out, &flags)
}

/// The generations of the run folder `out` that are complete.
fn complete(out: &Path) -> Vec<usize> {
    (0..3)
        .filter(|&g| out.join(format!("gen-{g:03}/COMPLETE")).is_file())
        .collect()
}

#[test]
fn every_bad_output_ends_the_run_in_one_line_and_keeps_its_generations() {
    let tmp = TempDir::new("protocol-bad");
    let dims = [28, 28];
    for count in [100, 256] {
        images(&tmp.join(&format!("good-{count}.npy")), count, dims, 0.5);
    }
    images(&tmp.join("shape.npy"), 100, [14, 14], 0.5);
    images(&tmp.join("nan.npy"), 100, dims, f32::NAN);
    images(&tmp.join("range.npy"), 100, dims, 1.5);
    float64_images(&tmp.join("float64.npy"));
    let dir = tmp.0.display().to_string();
    // Generations 0 and 1 draw good samples; generation 2's model draws `bad`.
    let cases: [(&str, &str, &[&str]); 8] = [
        (
            "missing",
            "exit 0",
            &["exited with 0 but wrote no samples to "],
        ),
        (
            "shape",
            "cp \"$0/shape.npy\" \"$2\"",
            &["shape [100, 14, 14] is not [n, 28, 28] (images of 28x28)"],
        ),
        ("nan", "cp \"$0/nan.npy\" \"$2\"", &["image 3 holds NaN"]),
        (
            "range",
            "cp \"$0/range.npy\" \"$2\"",
            &["image 0 holds 1.5, outside [0, 1]"],
        ),
        (
            "count",
            "cp \"$0/good-256.npy\" \"$2\"",
            &["holds 256 images where 100 were asked"],
        ),
        (
            "dtype",
            "cp \"$0/float64.npy\" \"$2\"",
            &["dtype <f8 is not float32 (<f4)"],
        ),
        (
            "failure",
            "echo out of memory >&2; exit 7",
            &["exited with 7; its stderr ends: out of memory"],
        ),
        (
            "timeout",
            "sleep 60",
            &["ran past its limit of 4 s and was ended"],
        ),
    ];
    let train = "true";
    for (name, bad, needles) in cases {
        let sample = format!(
            "sh -c 'if [ \"$COLLAPSE_GENERATION\" = 2 ]; then {bad}; else cp \"$0/good-$1.npy\" \"$2\"; fi' '{dir}' {{count}} {{samples}}"
        );
        let out = tmp.join(name);
        let args = chain(&out, train, &sample, &["--external-timeout", "4"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = Instant::now();
        let ran = collapse(&tmp.0, &args);
        let mut words = vec![
            "generation 2: the external model's sample command: ",
            "; completed generations are kept",
        ];
        words.extend(needles);
        assert_fails(&ran, 1, &words);
        assert_eq!(complete(&out), [0, 1], "{name}: generations kept");
        let rows = collapse_records::read_metrics_csv(&out.join("metrics.csv")).unwrap();
        assert_eq!(rows.len(), 2, "{name}");
        if name == "timeout" {
            assert!(started.elapsed() < Duration::from_secs(50), "{name}");
        }
    }
}

/// Whether the process whose id the file `pid_file` holds ends within ten
/// seconds (a zombie has ended).
fn ends(pid_file: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !running(pid_file) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Whether the process whose id the file `pid_file` holds runs.
fn running(pid_file: &Path) -> bool {
    let pid = std::fs::read_to_string(pid_file).unwrap();
    std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
        .is_ok_and(|s| !s.split(") ").nth(1).unwrap_or("").starts_with('Z'))
}

/// Waits up to two minutes for `path` to exist.
fn wait_for(path: &Path, chain: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never came", path.display());
        assert!(
            chain.try_wait().unwrap().is_none(),
            "the chain ended before {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `collapse args` in `cwd`.
fn start(cwd: &Path, args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_collapse"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Sends `signal` (`TERM`, `KILL`) to `child` and waits for it; its status.
fn signal(child: &mut Child, signal: &str) -> std::process::ExitStatus {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    child.wait().unwrap()
}

#[test]
fn a_killed_chain_takes_its_models_processes_and_resume_redoes_the_generation() {
    use std::os::unix::process::ExitStatusExt;

    let tmp = TempDir::new("protocol-kill");
    std::fs::write(tmp.join("model.toml"), "epochs = 1\n").unwrap();
    // While `hang` exists, generation 1's training starts a process in the
    // background and waits on it, writing both process ids first.
    let hang = tmp.join("hang");
    let (leader, background) = (tmp.join("leader.pid"), tmp.join("background.pid"));
    let script = tmp.join("train.sh");
    std::fs::write(
        &script,
        format!(
            "if [ -e '{hang}' ] && [ \"$COLLAPSE_GENERATION\" = 1 ]; then\n\
             echo $$ > '{leader}.part'; mv '{leader}.part' '{leader}'\n\
             sleep 300 &\n\
             echo $! > '{background}.part'; mv '{background}.part' '{background}'\n\
             wait\n\
             fi\n\
             exec \"$@\"\n",
            hang = hang.display(),
            leader = leader.display(),
            background = background.display(),
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_collapse");
    let config = tmp.join("model.toml");
    let (train, sample) = vae_commands(&config, &format!("sh '{}' ", script.display()));
    let out = tmp.join("run");
    let fresh = chain(&out, &train, &sample, &[]);
    let resume: Vec<String> = ["run", "--resume", out.to_str().unwrap(), "--quiet"]
        .map(String::from)
        .to_vec();
    std::fs::write(&hang, "").unwrap();

    // Asked to end, the chain ends the model's whole process group first.
    let mut running_chain = start(&tmp.0, &fresh);
    wait_for(&background, &mut running_chain);
    let status = signal(&mut running_chain, "TERM");
    assert_eq!(status.signal(), Some(15), "{status:?}");
    assert!(ends(&leader), "the train command outlived its chain");
    assert!(
        ends(&background),
        "its background process outlived the chain"
    );
    assert_eq!(complete(&out), [0]);

    // Killed outright, the chain takes the command's leader with it; what
    // the command started is ended by the resume.
    std::fs::remove_file(&background).unwrap();
    let mut running_chain = start(&tmp.0, &resume);
    wait_for(&background, &mut running_chain);
    let status = signal(&mut running_chain, "KILL");
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert!(ends(&leader), "the train command outlived its killed chain");
    assert!(
        running(&background),
        "what the train command started runs on"
    );
    std::fs::remove_file(&hang).unwrap();
    assert_ok(&collapse(
        &tmp.0,
        &resume.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    assert!(
        ends(&background),
        "the resume left the killed chain's process running"
    );
    assert_eq!(complete(&out), [0, 1, 2]);
    // The draw that was generation 1's set when it was killed went with the resume.
    for g in 0..3 {
        let left: Vec<_> = std::fs::read_dir(out.join(format!("gen-{g:03}")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".npy"))
            .collect();
        assert!(left.is_empty(), "gen {g} keeps {left:?}");
    }

    // The manifest records every command of every generation.
    let manifest: collapse_records::Manifest =
        collapse_records::read_json(&out.join("manifest.json")).unwrap();
    assert_eq!(manifest.resumed.len(), 2);
    let commands = |g: usize| -> Vec<(String, usize, Option<usize>)> {
        manifest.generations[g]
            .commands
            .iter()
            .map(|c| {
                assert_eq!(c.exit_code, 0);
                assert!(c.seconds > 0.0);
                assert_eq!(c.argv[0], if c.command == "train" { "sh" } else { bin });
                let count = c.samples.as_ref().map(|s| {
                    assert_eq!(s.sha256.len(), 64);
                    s.count
                });
                (c.command.clone(), c.model_generation, count)
            })
            .collect()
    };
    let run = |c: &str, g, n| (c.to_string(), g, n);
    assert_eq!(
        commands(0),
        [run("train", 0, None), run("sample", 0, Some(100))]
    );
    for g in 1..=2 {
        assert_eq!(
            commands(g),
            [
                run("sample", g - 1, Some(256)),
                run("train", g, None),
                run("sample", g, Some(100))
            ]
        );
    }
}

/// The SHA-256 of the values a `.npy` set holds, as the manifest records a
/// draw's: little-endian `float32`, image after image.
fn values_sha256(path: &Path) -> String {
    let pixels = collapse_data::read_images(path, [28, 28], None).unwrap();
    let bytes: Vec<u8> = pixels.iter().flat_map(|v| v.to_le_bytes()).collect();
    let digest = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&bytes)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&digest.stdout)[..64].to_string()
}

#[test]
fn a_draws_checksum_is_the_checksum_of_its_values() {
    let tmp = TempDir::new("protocol-sha");
    let set = tmp.join("set.npy");
    images(&set, 100, [28, 28], 0.25);
    let good = tmp.join("good-100.npy");
    std::fs::copy(&set, &good).unwrap();
    images(&tmp.join("good-256.npy"), 256, [28, 28], 0.75);
    let sample = format!(
        "sh -c 'cp \"$0/good-$1.npy\" \"$2\"' '{}' {{count}} {{samples}}",
        tmp.0.display()
    );
    let out: PathBuf = tmp.join("run");
    let args = chain(&out, "true", &sample, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_ok(&collapse(&tmp.0, &args));
    let manifest: collapse_records::Manifest =
        collapse_records::read_json(&out.join("manifest.json")).unwrap();
    let probe = &manifest.generations[0].commands[1];
    let recorded = probe.samples.as_ref().unwrap();
    assert_eq!(
        (recorded.count, recorded.sha256.clone()),
        (100, values_sha256(&set))
    );
}

#[test]
fn a_chain_that_keeps_real_images_gives_the_vae_chains_figures_through_the_protocol() {
    let tmp = TempDir::new("protocol-real");
    let config = tmp.join("model.toml");
    std::fs::write(&config, "epochs = 1\n").unwrap();
    let (train, sample) = vae_commands(&config, "");
    let mixed = ["--real-fraction", "0.25"];
    let (built_in, through) = (tmp.join("built-in"), tmp.join("protocol"));
    let mut flags = SMALL.to_vec();
    flags.extend(mixed);
    let args = run_args(&built_in, &flags);
    assert_ok(&collapse(
        &tmp.0,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let args = chain(&through, &train, &sample, &mixed);
    assert_ok(&collapse(
        &tmp.0,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let figures = |run: &Path| -> Vec<String> {
        collapse_records::read_metrics_csv(&run.join("metrics.csv"))
            .unwrap()
            .into_iter()
            .map(|r| {
                format!(
                    "{} {} {} {} {}",
                    r.train_size,
                    r.real_fraction,
                    r.probe_mu_mean,
                    r.probe_mu_std,
                    r.probe_tail_mass
                )
            })
            .collect()
    };
    let ours = figures(&built_in);
    assert_eq!(ours.len(), 3);
    assert!(ours[1].starts_with("256 0.25 "), "{ours:?}");
    assert_eq!(ours, figures(&through));
}
