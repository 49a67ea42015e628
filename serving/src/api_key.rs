//! The API key that guards the service.
//!
//! One shared secret, read from a file (so it stays out of the process list,
//! the environment and the config file) and compared in constant time. A plain
//! `==` on byte slices returns at the first differing byte, so the time an
//! answer takes tells an attacker how many leading bytes were right, and the
//! key can be guessed a byte at a time over the network. [`ApiKey::verify`]
//! takes the same time wherever the bytes differ, and its running time depends
//! only on the length of what was presented, never on the key.

use std::fmt;
use std::path::{Path, PathBuf};

use subtle::{Choice, ConstantTimeEq};

/// Why an API key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    /// The file could not be read.
    #[error("cannot read the API key file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds nothing but whitespace: an empty key would accept an
    /// empty `Authorization` header, so it is refused at startup.
    #[error("the API key file {} is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// A secret API key. `Debug` prints `ApiKey(<redacted>)`.
#[derive(Clone)]
pub struct ApiKey {
    /// Never empty.
    key: Vec<u8>,
}

impl ApiKey {
    /// Reads the key from `path`, trimming surrounding ASCII whitespace (the
    /// newline editors and `echo` add). Any bytes are allowed, not only UTF-8.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ApiKeyError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ApiKeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(bytes.trim_ascii()).ok_or_else(|| ApiKeyError::Empty {
            path: path.to_owned(),
        })
    }

    /// A key from bytes as they are (no trimming); `None` if empty.
    pub fn from_bytes(key: &[u8]) -> Option<Self> {
        (!key.is_empty()).then(|| Self { key: key.to_vec() })
    }

    /// Whether `presented` is exactly the key, compared in constant time.
    ///
    /// Every presented byte is compared with a key byte (cycling through the
    /// key if the presented value is longer), and the lengths are compared
    /// too, all without branching on the result, so the time taken depends
    /// on `presented.len()` alone.
    ///
    /// ```
    /// use billabong_serving::ApiKey;
    ///
    /// let key = ApiKey::from_bytes(b"s3cret").unwrap();
    /// assert!(key.verify(b"s3cret"));
    /// assert!(!key.verify(b"s3cre"));
    /// assert!(!key.verify(b"s3cret!"));
    /// ```
    pub fn verify(&self, presented: &[u8]) -> bool {
        let same_len = (self.key.len() as u64).ct_eq(&(presented.len() as u64));
        let same_bytes = presented
            .iter()
            .zip(self.key.iter().cycle())
            .fold(Choice::from(1), |acc, (p, k)| acc & p.ct_eq(k));
        (same_len & same_bytes).into()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}
