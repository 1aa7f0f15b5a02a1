//! Which files a `path` setting names right now: comma-separated paths and globs, minus
//! `exclude_path` globs. Re-run every `refresh_interval` so files that appear later are found.

use std::path::PathBuf;

/// The `path` and `exclude_path` settings of one tail source.
#[derive(Debug, Clone)]
pub struct PathSpec {
    include: Vec<String>,
    exclude: Vec<glob::Pattern>,
}

impl PathSpec {
    /// `include` are fluentd `path` entries (already split on commas), `exclude` the
    /// `exclude_path` globs. A bad glob is reported with the pattern that caused it.
    pub fn new(include: Vec<String>, exclude: &[String]) -> Result<Self, String> {
        for pattern in &include {
            glob::Pattern::new(pattern).map_err(|e| format!("bad path glob `{pattern}`: {e}"))?;
        }
        let exclude = exclude
            .iter()
            .map(|p| glob::Pattern::new(p).map_err(|e| format!("bad exclude_path glob `{p}`: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Self { include, exclude })
    }

    /// Literal paths (no glob characters) are always returned, existing or not, so the tailer
    /// can pick them up the moment they are created without waiting for a refresh.
    pub fn literal_paths(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.include
            .iter()
            .filter(|p| !is_glob(p))
            .map(PathBuf::from)
            .filter(|p| !self.excluded(p))
    }

    /// Expands every glob to the regular files it matches now, sorted, without duplicates.
    pub fn expand(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = self.literal_paths().collect();
        for pattern in self.include.iter().filter(|p| is_glob(p)) {
            let Ok(paths) = glob::glob(pattern) else {
                continue;
            };
            for path in paths.flatten() {
                if path.is_file() && !self.excluded(&path) {
                    found.push(path);
                }
            }
        }
        found.sort();
        found.dedup();
        found
    }

    fn excluded(&self, path: &std::path::Path) -> bool {
        self.exclude.iter().any(|p| p.matches_path(path))
    }
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_excludes() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.log", "b.log", "b.log.gz", "skip.log"] {
            std::fs::write(dir.path().join(name), "x\n").unwrap();
        }
        let base = dir.path().display();
        let spec = PathSpec::new(
            vec![format!("{base}/*.log"), format!("{base}/later.log")],
            &[format!("{base}/skip*")],
        )
        .unwrap();
        let names: Vec<String> = spec
            .expand()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.log", "b.log", "later.log"]);
    }

    #[test]
    fn bad_glob_names_the_pattern() {
        let error = PathSpec::new(vec!["/x/[".into()], &[]).unwrap_err();
        assert!(error.contains("/x/["), "{error}");
    }
}
