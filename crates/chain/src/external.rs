//! A generation's model run by a program outside this tool, through its two
//! commands (docs/models.md): `train` reads the generation's training set as
//! an `.npy` file and writes a model into a folder, `sample` draws images from
//! that folder into an `.npy` file the chain reads back and checks.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::time::Duration;

use burn::prelude::*;
use collapse_external::{CommandLine, Finished, Invocation, end_leftovers, run};
use collapse_records::{CommandRecord, RecordError, SamplesRecord, generation_dir};
use collapse_vae::{BatchSource, TrainEvent, Vae, to_host};
use sha2::{Digest, Sha256};

use crate::config::{
    ChainConfig, ExternalModel, LoopMode, SAMPLE_PLACEHOLDERS, TRAIN_PLACEHOLDERS,
};
use crate::error::ChainError;
use crate::model::{Attempt, ModelFamily, TrainError};
use crate::seeds::{Purpose, stream_seed};

/// The model folder inside a generation's folder.
const MODEL_DIR: &str = "model";

/// The variable that holds, in every command's environment, the run folder
/// (absolute) the command works for: what a resume ends the leftovers of a
/// killed chain by.
pub const RUN_VARIABLE: &str = "COLLAPSE_RUN";

/// The models of an external program, as a chain's configuration gives it.
pub struct ExternalFamily<'a> {
    config: &'a ChainConfig,
    train: CommandLine,
    sample: CommandLine,
    timeout: Option<Duration>,
    device: Device,
    /// The folder the commands run in; none for the generation's folder.
    workdir: Option<PathBuf>,
    /// A replacing chain's draw of the next generation's whole training set,
    /// kept as its command wrote it, to be that generation's set.
    draw: Mutex<Option<Draw>>,
    /// The commands run since the manifest last took them.
    commands: Mutex<Vec<CommandRecord>>,
    /// Ends, before the first command, what a killed chain of this run left running.
    leftovers: Once,
}

impl<'a> ExternalFamily<'a> {
    /// The external model of `config` (checked when it resolved), its samples
    /// uploaded to `device`.
    pub fn new(config: &'a ChainConfig, model: &ExternalModel, device: &Device) -> Self {
        let line = |text: &str, holes: &[&str]| {
            CommandLine::parse(text, holes).expect("checked when the settings resolved")
        };
        ExternalFamily {
            config,
            train: line(&model.train, &TRAIN_PLACEHOLDERS),
            sample: line(&model.sample, &SAMPLE_PLACEHOLDERS),
            timeout: model.timeout.map(Duration::from_secs_f64),
            device: device.clone(),
            workdir: model.workdir.clone(),
            draw: Mutex::new(None),
            commands: Mutex::new(Vec::new()),
            leftovers: Once::new(),
        }
    }

    /// Runs `line` filled with `values` in the folder the run was started
    /// from, its output in `NAME.stdout.log` and `NAME.stderr.log` in the
    /// generation's folder `logs`; a failure names the generation and the
    /// command. Returns its record for the manifest.
    fn run(
        &self,
        command: &'static str,
        line: &CommandLine,
        values: &[(&str, &str)],
        logs: &Path,
        log: &str,
        generation: usize,
    ) -> Result<CommandRecord, ChainError> {
        let out = &self.config.out;
        let run_dir = arg(&std::fs::canonicalize(out).map_err(|e| RecordError::io(out, e))?);
        // The run folder is held by now, so whatever carries its name was
        // left by a chain of it that was killed outright.
        self.leftovers.call_once(|| {
            end_leftovers(RUN_VARIABLE, &run_dir);
        });
        let argv = line.fill(values);
        let env = [
            ("COLLAPSE_GENERATION".to_string(), generation.to_string()),
            (
                "COLLAPSE_THREADS".to_string(),
                rayon::current_num_threads().to_string(),
            ),
            (RUN_VARIABLE.to_string(), run_dir),
        ];
        let (stdout, stderr) = (
            logs.join(format!("{log}.stdout.log")),
            logs.join(format!("{log}.stderr.log")),
        );
        run(&Invocation {
            argv: &argv,
            dir: self.workdir.as_deref().unwrap_or(logs),
            env: &env,
            stdout: &stdout,
            stderr: &stderr,
            timeout: self.timeout,
        })
        .map(|Finished { code, seconds }| CommandRecord {
            command: command.to_string(),
            model_generation: generation,
            argv,
            exit_code: code,
            seconds,
            samples: None,
        })
        .map_err(|e| ChainError::External {
            generation,
            command,
            message: e.to_string(),
        })
    }

    /// Generation `g`'s training set as a file in `dir`: the draw kept for
    /// it, or `source`'s images written there.
    fn training_set(
        &self,
        source: &mut dyn BatchSource,
        g: usize,
        dir: &Path,
    ) -> Result<PathBuf, ChainError> {
        let count = source.epoch_len();
        let kept = self.draw.lock().unwrap_or_else(|e| e.into_inner()).take();
        match kept {
            // The set is the draw itself, already on disk as its command wrote it.
            Some(draw) if draw.generation == g && draw.count == count => return Ok(draw.path),
            Some(other) => remove(&other.path)?,
            None => {}
        }
        let images = source.images().ok_or_else(|| {
            ChainError::Config(crate::ConfigError {
                setting: crate::Setting::Stream,
                message: "an external model reads a written training set; leave stream off"
                    .to_string(),
            })
        })?;
        let set = dir.join("train.npy");
        let dims = self.config.model.image_dims;
        collapse_data::write_images(&set, &to_host(images), count, dims)
            .map_err(ChainError::Npy)?;
        Ok(set)
    }

    /// Keeps the file `samples`, a draw of `count` images from generation
    /// `g`'s model on the stream of `seed`, where it is the next generation's
    /// whole training set: a replacing chain without real images draws that
    /// set on the next generation's sampling stream. Any other draw's file
    /// goes once it is read.
    fn keep_or_remove(
        &self,
        g: usize,
        seed: u64,
        count: usize,
        samples: PathBuf,
    ) -> Result<(), ChainError> {
        let c = self.config;
        let trains = c.mode == LoopMode::Replace
            && c.kept_real() == 0
            && seed == stream_seed(c.seed, g + 1, Purpose::Sample);
        if !trains {
            return remove(&samples);
        }
        let kept = Draw {
            generation: g + 1,
            count,
            path: samples,
        };
        let stale = self
            .draw
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(kept);
        match stale {
            Some(stale) => remove(&stale.path),
            None => Ok(()),
        }
    }

    /// Keeps `record` for the manifest.
    fn keep(&self, record: CommandRecord) {
        self.commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record);
    }
}

/// The SHA-256 of `pixels` as little-endian `float32` values, in hex.
fn values_sha256(pixels: &[f32]) -> String {
    let mut hash = Sha256::new();
    let mut bytes = Vec::with_capacity(4 * 4096);
    for chunk in pixels.chunks(4096) {
        bytes.clear();
        bytes.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
        hash.update(&bytes);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A draw kept as a generation's training set.
struct Draw {
    /// The generation it is the training set of.
    generation: usize,
    /// Its images.
    count: usize,
    /// The file its command wrote.
    path: PathBuf,
}

/// `path` made absolute.
fn absolute(path: &Path) -> Result<PathBuf, ChainError> {
    std::path::absolute(path).map_err(|e| collapse_records::RecordError::io(path, e).into())
}

/// Removes the file at `path`.
fn remove(path: &Path) -> Result<(), ChainError> {
    std::fs::remove_file(path).map_err(|e| collapse_records::RecordError::io(path, e).into())
}

/// A path as a command's argument.
fn arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl ModelFamily for ExternalFamily<'_> {
    /// The model's folder.
    type Model = PathBuf;

    fn train(
        &self,
        source: &mut dyn BatchSource,
        attempt: Attempt,
        _on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<(PathBuf, Option<f64>), TrainError> {
        let g = attempt.generation;
        let failed = |e: ChainError| TrainError::Failed(e);
        // Absolute, as the commands run in the folder the run was started from.
        let dir = absolute(&generation_dir(&self.config.out, g)).map_err(failed)?;
        let model_dir = dir.join(MODEL_DIR);
        std::fs::create_dir_all(&model_dir)
            .map_err(|e| failed(collapse_records::RecordError::io(&model_dir, e).into()))?;
        let set = self.training_set(source, g, &dir).map_err(failed)?;
        let (seed, init_seed) = (
            attempt.train_seed.to_string(),
            attempt.init_seed.to_string(),
        );
        let epochs = self.config.train.epochs.to_string();
        let generation = g.to_string();
        let values = [
            ("train", arg(&set)),
            ("model_dir", arg(&model_dir)),
            ("seed", seed),
            ("init_seed", init_seed),
            ("epochs", epochs),
            ("generation", generation),
        ];
        let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let ran = self.run("train", &self.train, &values, &dir, "train", g);
        // The model folder is the generation's checkpoint; its set is the chain's to keep or not.
        remove(&set).map_err(failed)?;
        self.keep(ran.map_err(failed)?);
        Ok((model_dir, None))
    }

    fn sample(&self, model: &PathBuf, count: usize, seed: u64) -> Result<Tensor<2>, ChainError> {
        let dir = model.parent().unwrap_or(model).to_path_buf();
        let g = collapse_records::generation_of(&dir).unwrap_or_default();
        let log = format!("sample-{seed:016x}");
        // Marked as a temporary file, so a resume clears one a kill left, and
        // ending in `.npy`, which `np.save` would otherwise append.
        let samples = dir.join(format!("{log}{}.npy", collapse_records::atomic::TEMP_MARK));
        let (count_text, seed_text, generation) =
            (count.to_string(), seed.to_string(), g.to_string());
        let values = [
            ("model_dir", arg(model)),
            ("count", count_text),
            ("samples", arg(&samples)),
            ("seed", seed_text),
            ("generation", generation),
        ];
        let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut record = self.run("sample", &self.sample, &values, &dir, &log, g)?;
        let dims = self.config.model.image_dims;
        let refused = |message: String| ChainError::External {
            generation: g,
            command: "sample",
            message,
        };
        if !samples.exists() {
            return Err(refused(format!(
                "exited with 0 but wrote no samples to {}",
                samples.display()
            )));
        }
        let pixels = collapse_data::read_images(&samples, dims, Some(count))
            .map_err(|e| refused(e.to_string()))?;
        self.keep_or_remove(g, seed, count, samples)?;
        record.samples = Some(SamplesRecord {
            count,
            sha256: values_sha256(&pixels),
        });
        self.keep(record);
        Ok(Tensor::from_data(
            TensorData::new(pixels, [count, dims[0] * dims[1]]),
            &self.device,
        ))
    }

    /// The train command wrote the model into the generation's folder already.
    fn save(&self, _: &PathBuf, _: &Path) -> Result<(), ChainError> {
        Ok(())
    }

    fn load(&self, dir: &Path) -> Result<PathBuf, ChainError> {
        let model = absolute(dir)?.join(MODEL_DIR);
        match model.is_dir() {
            true => Ok(model),
            false => Err(collapse_records::RecordError::io(
                &model,
                std::io::ErrorKind::NotFound.into(),
            )
            .into()),
        }
    }

    fn vae<'m>(&self, _: &'m PathBuf) -> Option<&'m Vae> {
        None
    }

    fn parameters(&self) -> usize {
        0
    }

    fn take_commands(&self) -> Vec<CommandRecord> {
        std::mem::take(&mut *self.commands.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
