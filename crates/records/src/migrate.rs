//! The run-folder format's version, and the one place that reads a manifest
//! of an older format: it upgrades the manifest's JSON to the current format
//! before the types see it, or refuses it in one line. The record types
//! themselves carry no history.
//!
//! Format 0 is every folder written before manifests carried
//! `format_version`. Its manifests may lack fields that later builds added;
//! the upgrade fills in what those folders meant (runs before the
//! evaluators did not evaluate, runs before `keep_sets` kept every set, …).

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::RecordError;

/// The format this build writes, and the newest it reads.
pub const FORMAT_VERSION: u64 = 1;

/// Reads the manifest of the run folder `run` (`run/manifest.json`), upgraded
/// to the current format.
pub fn read_manifest<T: DeserializeOwned>(run: &Path) -> Result<T, RecordError> {
    let path = run.join("manifest.json");
    let value: Value = crate::contract::read_json(&path)?;
    let upgraded = upgrade(value).map_err(|message| RecordError::Format {
        path: path.clone(),
        message,
    })?;
    serde_json::from_value(upgraded).map_err(|source| RecordError::Json { path, source })
}

/// `manifest` in the current format, or why it cannot be.
pub fn upgrade(mut manifest: Value) -> Result<Value, String> {
    let Some(fields) = manifest.as_object_mut() else {
        return Err("not a manifest (no JSON object)".to_string());
    };
    let version = match fields.get("format_version") {
        None => 0,
        Some(v) => v
            .as_u64()
            .ok_or_else(|| format!("format_version {v} is not a version number"))?,
    };
    if version > FORMAT_VERSION {
        return Err(format!(
            "written in run-folder format {version}, newer than this collapse reads ({FORMAT_VERSION}); use the collapse that wrote it or a newer one"
        ));
    }
    if version == 0 {
        from_0(fields)?;
    }
    fields.insert("format_version".to_string(), json!(FORMAT_VERSION));
    Ok(manifest)
}

/// Format 0 to 1: the experiment is named in every manifest, and the fields
/// that builds before format 1 added are filled in as those runs had them.
fn from_0(fields: &mut Map<String, Value>) -> Result<(), String> {
    let experiment = fields
        .entry("experiment")
        .or_insert_with(|| json!("chain"))
        .clone();
    default(fields, "resumed", json!([]));
    if experiment != json!("chain") {
        return Ok(());
    }
    default(fields, "retries", json!([]));
    if let Some(device) = fields.get_mut("device").and_then(Value::as_object_mut) {
        default(device, "runtime", json!("not recorded"));
        default(device, "precision", json!("not recorded"));
        default(device, "kernels", json!([]));
    }
    let Some(config) = fields.get_mut("config").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    // Runs before the evaluators existed did not evaluate; runs before
    // `keep_sets` kept every set; the classifier recipe was the first one.
    default(config, "on_divergence", json!("stop"));
    default(config, "evaluate", json!(false));
    default(config, "keep_sets", json!("all"));
    default(
        config,
        "classifier",
        json!({
            "image_dims": [28, 28], "classes": 10, "channels": [16, 32], "features": 128,
            "epochs": 6, "batch_size": 128, "lr": 0.002, "train_images": 0, "seed": 0
        }),
    );
    // The convolution path was recorded with the model; the kernels now
    // choose it for the device. "hybrid" sampled with one path and trained
    // with the other, which no build since 3e2cbdd reproduces.
    if let Some(model) = config.get_mut("model").and_then(Value::as_object_mut) {
        if model.get("conv_impl").and_then(Value::as_str) == Some("hybrid") {
            return Err(
                "conv_impl \"hybrid\" (the lowering for training, Burn's convolutions for sampling) is not in this build; a collapse built from commit 3e2cbdd or earlier has it"
                    .to_string(),
            );
        }
        model.remove("conv_impl");
    }
    Ok(())
}

/// Sets `key` of `object` to `value` where it is absent.
fn default(object: &mut Map<String, Value>, key: &str, value: Value) {
    object.entry(key).or_insert(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain_v0() -> Value {
        json!({
            "tool": "collapse 0.1.0",
            "started": "2026-01-01T00:00:00Z",
            "finished": null,
            "command_line": ["collapse", "run"],
            "config": { "model": { "conv_impl": "matmul" } },
            "seed": 3,
            "device": { "backend": "flex", "adapter": "host CPU", "kind": "cpu" },
            "parameters": 652_824,
            "dataset": { "name": "mnist", "dir": "datasets/mnist", "files": [] },
            "generations": []
        })
    }

    #[test]
    fn a_format_0_chain_manifest_gets_what_its_run_meant() {
        let up = upgrade(chain_v0()).unwrap();
        assert_eq!(up["format_version"], json!(FORMAT_VERSION));
        assert_eq!(up["experiment"], json!("chain"));
        assert_eq!(up["device"]["runtime"], json!("not recorded"));
        assert_eq!(up["device"]["kernels"], json!([]));
        assert_eq!((&up["resumed"], &up["retries"]), (&json!([]), &json!([])));
        assert_eq!(up["config"]["evaluate"], json!(false));
        assert_eq!(up["config"]["keep_sets"], json!("all"));
        assert_eq!(up["config"]["classifier"]["epochs"], json!(6));
        assert!(
            up["config"]["model"].get("conv_impl").is_none(),
            "the kernels choose the path"
        );
        let manifest: crate::Manifest = serde_json::from_value(up).unwrap();
        assert_eq!(manifest.device.precision, "not recorded");
    }

    #[test]
    fn recorded_values_are_kept() {
        let mut old = chain_v0();
        old["config"]["evaluate"] = json!(true);
        old["device"]["runtime"] = json!("flex");
        let up = upgrade(old).unwrap();
        assert_eq!(up["config"]["evaluate"], json!(true));
        assert_eq!(up["device"]["runtime"], json!("flex"));
        let current = upgrade(up.clone()).unwrap();
        assert_eq!(current, up, "a current manifest is left as it is");
    }

    #[test]
    fn a_theory_manifest_keeps_its_experiment() {
        let old = json!({ "experiment": "gmm", "config": {}, "seed": 1 });
        let up = upgrade(old).unwrap();
        assert_eq!(up["experiment"], json!("gmm"));
        assert_eq!(up["resumed"], json!([]));
        assert!(up.get("retries").is_none());
    }

    #[test]
    fn newer_formats_and_removed_options_are_refused_in_one_line() {
        let mut newer = chain_v0();
        newer["format_version"] = json!(FORMAT_VERSION + 1);
        let e = upgrade(newer).unwrap_err();
        assert!(e.contains("newer than this collapse reads"), "{e}");
        let mut hybrid = chain_v0();
        hybrid["config"]["model"]["conv_impl"] = json!("hybrid");
        let e = upgrade(hybrid).unwrap_err();
        assert!(e.contains("hybrid") && !e.contains('\n'), "{e}");
        assert!(upgrade(json!([1])).is_err());
    }
}
