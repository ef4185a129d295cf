//! What a benchmark asks: the mix of reads and writes, the keys and how
//! they are drawn, the sizes. One definition runs unchanged against every
//! target, so the numbers of two systems compare.

use std::fmt;
use std::str::FromStr;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution as _, Zipf};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The Zipf exponent when `zipf` is named without one (YCSB's default).
pub const ZIPF_EXPONENT_DEFAULT: f64 = 0.99;
/// What every key starts with: redis-benchmark's (`key:__rand_int__`,
/// whose number it pads to 12 digits). With 16-byte keys both tools name
/// the same keys, so a suite that runs both (`compare-etcd.sh`) holds
/// `--keys` keys, not twice as many.
pub const KEY_PREFIX: &str = "key:";
/// The shortest key: the prefix and at least one digit.
pub const KEY_SIZE_MIN_BYTES: usize = KEY_PREFIX.len() + 1;

/// A workload that cannot be run as written.
#[derive(Debug, Error, PartialEq)]
pub enum WorkloadError {
    /// Not one of the named mixes.
    #[error("unknown workload {0:?}: expected write, read, 50-50, 90-10 or 95-5 (percent reads - percent writes)")]
    UnknownMix(String),
    /// Not `uniform`, `zipf` or `zipf:EXPONENT`.
    #[error(
        "unknown key distribution {0:?}: expected uniform, zipf or zipf:EXPONENT (e.g. zipf:0.99)"
    )]
    UnknownDistribution(String),
    /// The key count, size or value size cannot hold the keys asked for.
    #[error("{0}")]
    Shape(String),
}

/// The share of reads among the operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mix {
    /// Percent of operations that are reads (the rest are writes).
    pub read_percent: u8,
}

impl Mix {
    /// Every named mix, in the order a full suite runs them.
    pub const NAMED: [(&'static str, u8); 5] = [
        ("write", 0),
        ("read", 100),
        ("50-50", 50),
        ("90-10", 90),
        ("95-5", 95),
    ];

    /// The name of this mix (`write`, `read`, `90-10`, …).
    pub fn name(self) -> String {
        match self.read_percent {
            0 => "write".to_string(),
            100 => "read".to_string(),
            reads => format!("{reads}-{}", 100 - reads),
        }
    }
}

impl FromStr for Mix {
    type Err = WorkloadError;

    fn from_str(text: &str) -> Result<Mix, WorkloadError> {
        Mix::NAMED
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, read_percent)| Mix {
                read_percent: *read_percent,
            })
            .ok_or_else(|| WorkloadError::UnknownMix(text.to_string()))
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.name())
    }
}

/// How keys are drawn from the key space.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyDistribution {
    /// Every key equally likely.
    Uniform,
    /// Key rank r drawn with probability proportional to 1 / r^exponent:
    /// a few hot keys, as in YCSB.
    Zipf {
        /// The exponent (0.99 in YCSB).
        exponent: f64,
    },
}

impl FromStr for KeyDistribution {
    type Err = WorkloadError;

    fn from_str(text: &str) -> Result<KeyDistribution, WorkloadError> {
        let unknown = || WorkloadError::UnknownDistribution(text.to_string());
        match text.split_once(':') {
            None if text == "uniform" => Ok(KeyDistribution::Uniform),
            None if text == "zipf" => Ok(KeyDistribution::Zipf {
                exponent: ZIPF_EXPONENT_DEFAULT,
            }),
            Some(("zipf", exponent)) => {
                let exponent: f64 = exponent.parse().map_err(|_| unknown())?;
                if exponent.is_finite() && exponent > 0.0 {
                    Ok(KeyDistribution::Zipf { exponent })
                } else {
                    Err(unknown())
                }
            }
            _ => Err(unknown()),
        }
    }
}

impl fmt::Display for KeyDistribution {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyDistribution::Uniform => formatter.write_str("uniform"),
            KeyDistribution::Zipf { exponent } => write!(formatter, "zipf:{exponent}"),
        }
    }
}

/// One workload: everything but the target, the concurrency and the time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Reads against writes.
    pub mix: Mix,
    /// Distinct keys, all written before the measurement (preloaded).
    pub keys: u64,
    /// Bytes of every key.
    pub key_size_bytes: usize,
    /// Bytes of every value.
    pub value_size_bytes: usize,
    /// How keys are drawn.
    pub distribution: KeyDistribution,
}

impl Workload {
    /// Checks that `keys` distinct keys fit in `key_size_bytes` and that a
    /// value can carry the writer's tag (the history needs unique values).
    ///
    /// # Errors
    ///
    /// [`WorkloadError::Shape`] saying which limit is broken.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        if self.keys == 0 {
            return Err(WorkloadError::Shape("--keys must be at least 1".into()));
        }
        let digits = (self.keys - 1).to_string().len();
        if self.key_size_bytes < KEY_SIZE_MIN_BYTES
            || self.key_size_bytes < KEY_PREFIX.len() + digits
        {
            return Err(WorkloadError::Shape(format!(
                "--key-size {} cannot name {} distinct keys: it needs at least {} bytes",
                self.key_size_bytes,
                self.keys,
                (KEY_PREFIX.len() + digits).max(KEY_SIZE_MIN_BYTES)
            )));
        }
        if self.value_size_bytes == 0 {
            return Err(WorkloadError::Shape(
                "--value-size must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The key with index `index`: [`KEY_PREFIX`] and the index,
    /// zero-padded to the key size, so every key has the same length and
    /// sorts by index.
    pub fn key(&self, index: u64) -> String {
        let width = self.key_size_bytes - KEY_PREFIX.len();
        format!("{KEY_PREFIX}{index:0width$}")
    }

    /// A value of the workload's size that names its writer and sequence
    /// number, so every write of a run is distinct (and a history can tell
    /// which write a read saw), padded with `.`.
    pub fn value(&self, writer: u64, sequence: u64) -> String {
        let mut value = format!("{writer}.{sequence}.");
        if value.len() < self.value_size_bytes {
            let padding = self.value_size_bytes - value.len();
            value.extend(std::iter::repeat_n('.', padding));
        }
        value
    }
}

/// One operation a worker is about to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Draw {
    /// A read (`true`) or a write.
    pub is_read: bool,
    /// The key's index.
    pub key: u64,
}

/// Draws operations for one worker; seeded, so a run can be repeated.
pub struct Chooser {
    random: SmallRng,
    read_percent: u8,
    keys: u64,
    zipf: Option<Zipf<f64>>,
}

impl Chooser {
    /// A chooser for `workload`, from `seed`.
    pub fn new(workload: &Workload, seed: u64) -> Chooser {
        let zipf = match workload.distribution {
            KeyDistribution::Uniform => None,
            KeyDistribution::Zipf { exponent } => {
                Some(Zipf::new(workload.keys as f64, exponent).expect("validated Zipf parameters"))
            }
        };
        Chooser {
            random: SmallRng::seed_from_u64(seed),
            read_percent: workload.mix.read_percent,
            keys: workload.keys,
            zipf,
        }
    }

    /// The next operation.
    pub fn next_draw(&mut self) -> Draw {
        let is_read = self.random.random_range(0..100u8) < self.read_percent;
        let key = match &self.zipf {
            None => self.random.random_range(0..self.keys),
            // Zipf draws ranks 1..=keys; rank 1 is the hottest key.
            Some(zipf) => (zipf.sample(&mut self.random) as u64).clamp(1, self.keys) - 1,
        };
        Draw { is_read, key }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(keys: u64, key_size_bytes: usize) -> Workload {
        Workload {
            mix: Mix { read_percent: 90 },
            keys,
            key_size_bytes,
            value_size_bytes: 100,
            distribution: KeyDistribution::Uniform,
        }
    }

    #[test]
    fn mixes_parse_by_name_and_print_back() {
        for (name, read_percent) in Mix::NAMED {
            let mix: Mix = name.parse().unwrap();
            assert_eq!(mix.read_percent, read_percent);
            assert_eq!(mix.to_string(), name);
        }
        assert!(matches!(
            "80-20".parse::<Mix>(),
            Err(WorkloadError::UnknownMix(_))
        ));
    }

    #[test]
    fn distributions_parse_with_and_without_an_exponent() {
        assert_eq!("uniform".parse(), Ok(KeyDistribution::Uniform));
        assert_eq!("zipf".parse(), Ok(KeyDistribution::Zipf { exponent: 0.99 }));
        assert_eq!(
            "zipf:1.2".parse(),
            Ok(KeyDistribution::Zipf { exponent: 1.2 })
        );
        for bad in ["zipf:", "zipf:-1", "zipf:nan", "normal", "uniform:1"] {
            assert!(bad.parse::<KeyDistribution>().is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_have_the_asked_size_and_differ() {
        let workload = workload(10_000, 16);
        assert_eq!(workload.key(0), "key:000000000000");
        // redis-benchmark's name for the same key (`-r` picks the number).
        assert_eq!(workload.key(12_345), "key:000000012345");
        assert_eq!(workload.key(9_999).len(), 16);
        assert_ne!(workload.key(1), workload.key(10));
        assert!(workload.validate().is_ok());
    }

    #[test]
    fn a_key_size_too_small_for_the_key_count_is_refused() {
        let error = workload(10_000, 7).validate().unwrap_err();
        assert!(error.to_string().contains("at least 8 bytes"), "{error}");
        assert!(workload(10_000, 8).validate().is_ok());
        assert!(workload(0, 16).validate().is_err());
    }

    #[test]
    fn values_are_unique_per_writer_and_sequence_and_sized() {
        let workload = workload(10, 16);
        let value = workload.value(3, 7);
        assert_eq!(value.len(), 100);
        assert!(value.starts_with("3.7."));
        assert_ne!(workload.value(3, 7), workload.value(37, 0));
    }

    #[test]
    fn draws_follow_the_mix_and_stay_in_the_key_space() {
        let mut workload = workload(100, 16);
        workload.distribution = KeyDistribution::Zipf { exponent: 0.99 };
        let mut chooser = Chooser::new(&workload, 7);
        let draws: Vec<Draw> = (0..10_000).map(|_| chooser.next_draw()).collect();
        let reads = draws.iter().filter(|draw| draw.is_read).count();
        assert!((8_500..9_500).contains(&reads), "{reads} reads of 10,000");
        assert!(draws.iter().all(|draw| draw.key < 100));
        let hottest = draws.iter().filter(|draw| draw.key == 0).count();
        let coldest = draws.iter().filter(|draw| draw.key == 99).count();
        assert!(hottest > 10 * coldest.max(1), "{hottest} against {coldest}");
    }
}
