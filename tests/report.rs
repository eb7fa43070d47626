//! `collapse report` redraws every plot and the GIF from the files on disk.

use crate::chain::{TINY, short_chain};
use crate::util::{TempDir, assert_fails, assert_ok, collapse};

#[test]
fn report_redraws_plots_and_gif_from_disk() {
    let tmp = TempDir::new("report");
    let out = short_chain(&tmp, &TINY);
    let plots = out.join("plots");
    let before = std::fs::read(plots.join("probe_histograms.png")).unwrap();
    std::fs::remove_dir_all(&plots).unwrap();
    std::fs::remove_file(out.join("samples.gif")).unwrap();
    let stdout = assert_ok(&collapse(&tmp.0, &["report", out.to_str().unwrap()]));
    assert!(stdout.contains("redrew 2 generations"), "{stdout}");
    assert_eq!(
        std::fs::read(plots.join("probe_histograms.png")).unwrap(),
        before
    );
    for f in [
        "probe_mu_std",
        "probe_tail_mass",
        "test_nelbo",
        "active_units",
    ] {
        assert!(plots.join(format!("{f}.png")).is_file(), "{f}");
    }
    assert!(out.join("samples.gif").is_file());
}

#[test]
fn report_refuses_a_folder_that_is_not_a_run() {
    let tmp = TempDir::new("report-bad");
    let out = collapse(&tmp.0, &["report", tmp.0.to_str().unwrap()]);
    assert_fails(&out, 2, &["not a run folder"]);
}
