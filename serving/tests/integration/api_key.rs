//! The API key: loaded from a file, compared exactly.

use std::path::PathBuf;

use billabong_serving::{ApiKey, ApiKeyError};

/// A file in the temp dir, unique to this process and `name`, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn with(name: &str, contents: &[u8]) -> Self {
        let path =
            std::env::temp_dir().join(format!("billabong-api-key-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("temp dir is writable");
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn accepts_the_key_and_rejects_everything_else() {
    let file = TempFile::with("good", b"  k3y-0f-the-day\n");
    let key = ApiKey::from_file(&file.0).expect("a key");
    assert!(key.verify(b"k3y-0f-the-day"));
    for wrong in [
        &b"k3y-0f-the-dax"[..],          // same length, last byte differs
        b"x3y-0f-the-day",               // same length, first byte differs
        b"k3y-0f-the-da",                // shorter (a prefix)
        b"k3y-0f-the-day!",              // longer (key + suffix)
        b"k3y-0f-the-dayk3y-0f-the-day", // the key twice: equal bytes when cycled
        b"  k3y-0f-the-day\n",           // untrimmed
        b"",
    ] {
        assert!(
            !key.verify(wrong),
            "{:?} was accepted",
            String::from_utf8_lossy(wrong)
        );
    }
}

#[test]
fn debug_does_not_print_the_key() {
    let key = ApiKey::from_bytes(b"k3y-0f-the-day").expect("not empty");
    assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
}

#[test]
fn empty_or_whitespace_file_is_an_error_naming_the_path() {
    for (name, contents) in [("empty", &b""[..]), ("blank", b" \n\t\r\n")] {
        let file = TempFile::with(name, contents);
        let err = ApiKey::from_file(&file.0).expect_err("empty key");
        assert!(matches!(err, ApiKeyError::Empty { .. }));
        assert_eq!(
            err.to_string(),
            format!("the API key file {} is empty", file.0.display())
        );
    }
    assert!(ApiKey::from_bytes(b"").is_none());
}

#[test]
fn missing_file_is_an_error_naming_the_path() {
    let path =
        std::env::temp_dir().join(format!("billabong-api-key-{}-absent", std::process::id()));
    let err = ApiKey::from_file(&path).expect_err("no file");
    assert!(
        err.to_string().starts_with(&format!(
            "cannot read the API key file {}: ",
            path.display()
        )),
        "{err}"
    );
}
