//! Where results go: standard output or a file. The printers themselves are the library's
//! (`layerdig::report`).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// Standard output, or a file (created mode 0600 when it will hold secrets).
pub fn open_output(path: Option<&Path>, secret: bool) -> Result<Box<dyn Write + Send>> {
    match path {
        None => Ok(Box::new(BufWriter::new(io::stdout()))),
        Some(p) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            if secret {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let file: File = options.open(p).with_context(|| format!("creating {}", p.display()))?;
            #[cfg(unix)]
            if secret {
                // The file may have existed with wider permissions: narrow them before writing.
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("restricting {} to mode 0600", p.display()))?;
            }
            #[cfg(not(unix))]
            let _ = secret;
            Ok(Box::new(BufWriter::new(file)))
        }
    }
}
