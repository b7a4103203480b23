//! Read-only file access for layouts and archives: either a directory, or a tar archive indexed
//! once so each member can be read in place (no copying the archive out to disk).

use crate::error::{ImageError, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub(crate) enum Files {
    Dir(PathBuf),
    Tar {
        file: PathBuf,
        members: HashMap<String, (u64, u64)>,
    },
}

fn norm(p: &str) -> String {
    p.trim_start_matches("./")
        .trim_start_matches('/')
        .to_string()
}

impl Files {
    pub(crate) fn dir(p: &Path) -> Result<Files> {
        if !p.is_dir() {
            return Err(ImageError::NotFound(format!(
                "OCI layout directory {}",
                p.display()
            )));
        }
        Ok(Files::Dir(p.to_path_buf()))
    }

    pub(crate) fn tar(p: &Path) -> Result<Files> {
        let f = File::open(p).map_err(|e| ImageError::io(format!("open {}", p.display()), e))?;
        let mut members = HashMap::new();
        let mut ar = tar::Archive::new(f);
        let what = || format!("read archive {}", p.display());
        for entry in ar.entries().map_err(|e| ImageError::io(what(), e))? {
            let entry = entry.map_err(|e| ImageError::io(what(), e))?;
            if entry.header().entry_type().is_file() {
                let name = norm(&String::from_utf8_lossy(&entry.path_bytes()));
                members.insert(name, (entry.raw_file_position(), entry.size()));
            }
        }
        Ok(Files::Tar {
            file: p.to_path_buf(),
            members,
        })
    }

    /// Size and stream of a member; names never leave the directory (they come from our own
    /// digest-derived paths or manifest.json entries, which are checked here).
    pub(crate) fn open(&self, name: &str) -> Result<(u64, Box<dyn Read + Send>)> {
        let name = norm(name);
        if name.split('/').any(|c| c == "..") {
            return Err(ImageError::Invalid(format!(
                "archive member {name:?} climbs out of the archive"
            )));
        }
        match self {
            Files::Dir(d) => {
                let p = d.join(&name);
                let f = File::open(&p).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        ImageError::NotFound(p.display().to_string())
                    } else {
                        ImageError::io(format!("open {}", p.display()), e)
                    }
                })?;
                let len = f
                    .metadata()
                    .map_err(|e| ImageError::io(format!("stat {}", p.display()), e))?
                    .len();
                Ok((len, Box::new(f)))
            }
            Files::Tar { file, members } => {
                let &(off, size) = members
                    .get(&name)
                    .ok_or_else(|| ImageError::NotFound(format!("{name} in {}", file.display())))?;
                let mut f = File::open(file)
                    .map_err(|e| ImageError::io(format!("open {}", file.display()), e))?;
                f.seek(SeekFrom::Start(off))
                    .map_err(|e| ImageError::io(format!("seek {}", file.display()), e))?;
                Ok((size, Box::new(f.take(size))))
            }
        }
    }

    pub(crate) fn read_small(&self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let (size, r) = self.open(name)?;
        if size > limit {
            return Err(ImageError::Invalid(format!(
                "{name}: {size} bytes is too large"
            )));
        }
        let mut out = Vec::with_capacity(size as usize);
        r.take(limit)
            .read_to_end(&mut out)
            .map_err(|e| ImageError::io(format!("read {name}"), e))?;
        Ok(out)
    }

    pub(crate) fn exists(&self, name: &str) -> bool {
        match self {
            Files::Dir(d) => d.join(norm(name)).exists(),
            Files::Tar { members, .. } => members.contains_key(&norm(name)),
        }
    }
}
