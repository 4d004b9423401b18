//! `cpd slurm`: the batch scripts that run a manifest as a SLURM array of
//! shards and merge them with a dependent job.
//!
//! Into the output directory `DIR`:
//! * `array.sh`: `sbatch --array=0-(N-1)`; task `I` runs
//!   `cpd analyze --manifest M --shard I/N --out DIR/parts/I`;
//! * `merge.sh`: `cpd merge DIR/parts/0 … DIR/parts/(N-1) --out DIR`,
//!   submitted with `--dependency=afterany:<array job>`: it runs once every
//!   task has ended, however it ended. When a shard's part is missing it
//!   merges nothing, names the shards and prints the one command that
//!   resumes the run, and fails (so a failed task never leaves the merge
//!   pending forever, as `afterok` would);
//! * `submit.sh`: both submissions, as `cpd slurm --submit` makes them.
//!
//! Logs go to `DIR/logs/`. `cpd slurm … --resume` ([`SlurmJob::incomplete`])
//! finds the shards whose part is missing or not a complete part of this
//! run and submits those tasks alone (`sbatch --array=I,J DIR/array.sh`),
//! then the merge. Paths in the scripts are absolute, so they run from any
//! directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{CpdError, Result};

/// Script file names.
pub const ARRAY_SH: &str = "array.sh";
/// The merge job.
pub const MERGE_SH: &str = "merge.sh";
/// Both submissions.
pub const SUBMIT_SH: &str = "submit.sh";

/// What the scripts run.
#[derive(Debug, Clone)]
pub struct SlurmJob {
    /// Absolute path of the `cpd` binary.
    pub cpd: PathBuf,
    /// Absolute path of the run manifest.
    pub manifest: PathBuf,
    /// Number of shards (array tasks).
    pub shards: usize,
    /// Absolute output directory.
    pub out: PathBuf,
    /// Extra `sbatch` options, each written as an `#SBATCH` line of both
    /// scripts (e.g. `--partition=cpu`, `--time=02:00:00`).
    pub sbatch_args: Vec<String>,
}

/// Quote for a POSIX shell.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn q(p: &Path) -> String {
    quote(&p.display().to_string())
}

impl SlurmJob {
    /// Check the request: at least one shard, absolute paths, and options
    /// that cannot clash with the scripts' own.
    pub fn check(&self) -> Result<()> {
        if self.shards == 0 {
            return Err(CpdError::Invalid("--shards must be at least 1".into()));
        }
        for (what, p) in [
            ("cpd binary", &self.cpd),
            ("manifest", &self.manifest),
            ("output directory", &self.out),
        ] {
            if !p.is_absolute() {
                return Err(CpdError::Invalid(format!(
                    "{what} {} must be an absolute path",
                    p.display()
                )));
            }
        }
        for a in &self.sbatch_args {
            let name = a.split('=').next().unwrap_or(a);
            if ["--array", "-a", "--dependency", "-d", "--parsable"].contains(&name) {
                return Err(CpdError::Invalid(format!(
                    "--sbatch-args: '{a}' is set by cpd slurm itself"
                )));
            }
        }
        Ok(())
    }

    /// Directory of shard `i`'s partial report.
    pub fn part_dir(&self, i: usize) -> PathBuf {
        self.out.join("parts").join(i.to_string())
    }

    fn sbatch_lines(&self) -> String {
        self.sbatch_args
            .iter()
            .map(|a| format!("#SBATCH {a}\n"))
            .collect()
    }

    /// The array job script.
    pub fn array_script(&self) -> String {
        let n = self.shards;
        format!(
            "#!/bin/sh\n\
             # cpd: shard $SLURM_ARRAY_TASK_ID of {n} of {manifest}.\n\
             # Re-run the shards that failed, then the merge: {resume}\n\
             #SBATCH --job-name=cpd-shards\n\
             #SBATCH --array=0-{last}\n\
             #SBATCH --output={logs}\n\
             {extra}\
             set -eu\n\
             exec {cpd} analyze --manifest {mq} --shard \"$SLURM_ARRAY_TASK_ID/{n}\" \\\n    \
             --out {parts}/\"$SLURM_ARRAY_TASK_ID\" --progress always\n",
            manifest = self.manifest.display(),
            resume = self.resume_command(),
            last = n - 1,
            logs = q(&self.out.join("logs").join("shard-%a.out")),
            extra = self.sbatch_lines(),
            cpd = q(&self.cpd),
            mq = q(&self.manifest),
            parts = q(&self.out.join("parts")),
        )
    }

    /// The command that resumes the run: the shards whose part is missing,
    /// then the merge ([`SlurmJob::incomplete`]).
    pub fn resume_command(&self) -> String {
        let extra = if self.sbatch_args.is_empty() {
            String::new()
        } else {
            format!(" --sbatch-args {}", quote(&self.sbatch_args.join(" ")))
        };
        format!(
            "{} slurm --manifest {} --shards {} --out {}{extra} --resume --submit",
            q(&self.cpd),
            q(&self.manifest),
            self.shards,
            q(&self.out)
        )
    }

    /// The merge job script: every part's report.json present, then the
    /// merge; else the missing shards and the resume command, exit 1.
    pub fn merge_script(&self) -> String {
        let parts: Vec<String> = (0..self.shards).map(|i| q(&self.part_dir(i))).collect();
        format!(
            "#!/bin/sh\n\
             # cpd: merge the {n} shards of {manifest} into {out}.\n\
             #SBATCH --job-name=cpd-merge\n\
             #SBATCH --output={logs}\n\
             {extra}\
             set -eu\n\
             missing=\n\
             for i in $(seq 0 {last}); do\n    \
             [ -f {pq}/\"$i\"/report.json ] || missing=\"$missing $i\"\n\
             done\n\
             if [ -n \"$missing\" ]; then\n    \
             printf '%s\\n' \"cpd: shard(s)$missing of {n} wrote no part; nothing was merged. Resume with:\" {resume} >&2\n    \
             exit 1\n\
             fi\n\
             exec {cpd} merge \\\n    {parts} \\\n    --out {oq}\n",
            n = self.shards,
            last = self.shards - 1,
            manifest = self.manifest.display(),
            out = self.out.display(),
            logs = q(&self.out.join("logs").join("merge.out")),
            extra = self.sbatch_lines(),
            pq = q(&self.out.join("parts")),
            resume = quote(&self.resume_command()),
            cpd = q(&self.cpd),
            parts = parts.join(" \\\n    "),
            oq = q(&self.out),
        )
    }

    /// The shards whose part is not a complete part of this run, each with
    /// the reason: no `report.json`, a part that cannot be read (corrupt,
    /// or its folds.csv changed), the part of another shard or shard count,
    /// or one planned from other work units than `plan` (the run's, from
    /// the manifest as it is now: a part of an edited manifest is run
    /// again rather than refused by the merge).
    pub fn incomplete(&self, plan: &[crate::run::shard::WorkUnit]) -> Vec<(usize, String)> {
        (0..self.shards)
            .filter_map(|i| {
                let dir = self.part_dir(i);
                if !dir.join("report.json").is_file() {
                    return Some((i, format!("{}: no report.json", dir.display())));
                }
                match crate::run::join::read_part(&dir) {
                    Err(e) => Some((i, e.to_string())),
                    Ok(p) if (p.partial.shard.index, p.partial.shard.count) != (i, self.shards) => {
                        Some((
                            i,
                            format!(
                                "{}: holds shard {}/{}, not {i}/{}",
                                dir.display(),
                                p.partial.shard.index,
                                p.partial.shard.count,
                                self.shards
                            ),
                        ))
                    }
                    Ok(p) if p.partial.shard.plan != plan => Some((
                        i,
                        format!(
                            "{}: planned from other work units than the manifest's now (was it edited?)",
                            dir.display()
                        ),
                    )),
                    Ok(_) => None,
                }
            })
            .collect()
    }

    /// The submissions `cpd slurm --submit` makes, as a script.
    pub fn submit_script(&self) -> String {
        format!(
            "#!/bin/sh\n\
             # cpd: submit the shards, then the merge once every shard has ended.\n\
             set -eu\n\
             array=$(sbatch --parsable {array})\n\
             array=${{array%%;*}}\n\
             merge=$(sbatch --parsable --dependency=afterany:\"$array\" {merge})\n\
             echo \"array job $array, merge job ${{merge%%;*}}\"\n",
            array = q(&self.out.join(ARRAY_SH)),
            merge = q(&self.out.join(MERGE_SH)),
        )
    }

    /// Create `DIR`, `DIR/parts`, `DIR/logs` and write the three scripts
    /// (each to a temporary file, then renamed; mode 755). Returns their
    /// paths: array, merge, submit.
    pub fn write(&self) -> Result<Vec<PathBuf>> {
        self.check()?;
        for d in [self.out.join("parts"), self.out.join("logs")] {
            std::fs::create_dir_all(&d).map_err(|e| CpdError::io(&d, e))?;
        }
        let mut written = Vec::new();
        for (name, text) in [
            (ARRAY_SH, self.array_script()),
            (MERGE_SH, self.merge_script()),
            (SUBMIT_SH, self.submit_script()),
        ] {
            let dest = self.out.join(name);
            let mut b = tempfile::Builder::new();
            b.prefix(".cpd-partial-");
            #[cfg(unix)]
            b.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o755));
            let mut tmp = b
                .tempfile_in(&self.out)
                .map_err(|e| CpdError::io(&self.out, e))?;
            tmp.write_all(text.as_bytes())
                .and_then(|_| tmp.as_file().sync_all())
                .map_err(|e| CpdError::io(tmp.path(), e))?;
            tmp.persist(&dest)
                .map_err(|e| CpdError::io(&dest, e.error))?;
            written.push(dest);
        }
        Ok(written)
    }
}

/// The job id in `sbatch --parsable`'s output (`ID` or `ID;CLUSTER`).
pub fn parse_job_id(stdout: &str) -> Result<String> {
    let line = stdout.lines().map(str::trim).find(|l| !l.is_empty());
    let id = line.map(|l| l.split(';').next().unwrap_or(l).trim());
    match id {
        Some(id) if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) => Ok(id.to_owned()),
        _ => Err(CpdError::Invalid(format!(
            "sbatch --parsable printed no job id: {:?}",
            stdout.trim()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> SlurmJob {
        SlurmJob {
            cpd: "/opt/cpd/bin/cpd".into(),
            manifest: "/home/me/study/run.toml".into(),
            shards: 4,
            out: "/scratch/me/run 1".into(),
            sbatch_args: vec!["--partition=cpu".into(), "--time=01:00:00".into()],
        }
    }

    #[test]
    fn array_script_runs_one_shard_per_task() {
        let s = job().array_script();
        assert!(s.starts_with("#!/bin/sh\n"), "{s}");
        assert!(s.contains("#SBATCH --array=0-3\n"), "{s}");
        assert!(s.contains("#SBATCH --partition=cpu\n#SBATCH --time=01:00:00\n"));
        assert!(
            s.contains(
                "# Re-run the shards that failed, then the merge: /opt/cpd/bin/cpd slurm --manifest /home/me/study/run.toml --shards 4 --out '/scratch/me/run 1' --sbatch-args '--partition=cpu --time=01:00:00' --resume --submit\n"
            ),
            "{s}"
        );
        assert!(
            s.contains("#SBATCH --output='/scratch/me/run 1/logs/shard-%a.out'\n"),
            "{s}"
        );
        assert!(s.contains(
            "exec /opt/cpd/bin/cpd analyze --manifest /home/me/study/run.toml --shard \"$SLURM_ARRAY_TASK_ID/4\""
        ), "{s}");
        assert!(
            s.contains("--out '/scratch/me/run 1/parts'/\"$SLURM_ARRAY_TASK_ID\""),
            "{s}"
        );
        // #SBATCH lines must precede the first command.
        let first_cmd = s.find("set -eu").unwrap();
        assert!(s.rfind("#SBATCH").unwrap() < first_cmd);
    }

    #[test]
    fn merge_script_lists_every_part_and_submit_chains_the_jobs() {
        let s = job().merge_script();
        for i in 0..4 {
            assert!(s.contains(&format!("'/scratch/me/run 1/parts/{i}'")), "{s}");
        }
        assert!(s.contains("--out '/scratch/me/run 1'\n"), "{s}");
        let t = job().submit_script();
        assert!(
            t.contains("array=$(sbatch --parsable '/scratch/me/run 1/array.sh')"),
            "{t}"
        );
        assert!(
            t.contains("--dependency=afterany:\"$array\" '/scratch/me/run 1/merge.sh'"),
            "{t}"
        );
    }

    #[test]
    fn merge_script_merges_only_when_every_part_is_there_else_names_the_resume() {
        // The script run by sh, with `echo` for cpd: it prints the merge
        // command when every part has its report.json, and otherwise the
        // missing shards and the resume command, exiting 1.
        let dir = tempfile::tempdir().unwrap();
        let mut j = job();
        j.cpd = "/bin/echo".into();
        j.out = dir.path().join("run 1");
        j.write().unwrap();
        for i in [0, 2] {
            std::fs::create_dir_all(j.part_dir(i)).unwrap();
            std::fs::write(j.part_dir(i).join("report.json"), "{}").unwrap();
        }
        let run = || {
            std::process::Command::new("sh")
                .arg(j.out.join(MERGE_SH))
                .output()
                .unwrap()
        };
        let out = run();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            err,
            format!(
                "cpd: shard(s) 1 3 of 4 wrote no part; nothing was merged. Resume with:\n{}\n",
                j.resume_command()
            )
        );
        assert!(out.stdout.is_empty());
        for i in [1, 3] {
            std::fs::create_dir_all(j.part_dir(i)).unwrap();
            std::fs::write(j.part_dir(i).join("report.json"), "{}").unwrap();
        }
        let out = run();
        assert!(out.status.success());
        let parts: Vec<String> = (0..4)
            .map(|i| j.part_dir(i).display().to_string())
            .collect();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("merge {} --out {}\n", parts.join(" "), j.out.display())
        );
    }

    #[test]
    fn refuses_relative_paths_zero_shards_and_clashing_options() {
        let mut j = job();
        j.shards = 0;
        assert!(j.check().unwrap_err().to_string().contains("--shards"));
        let mut j = job();
        j.out = "rel".into();
        assert!(j.check().unwrap_err().to_string().contains("absolute"));
        let mut j = job();
        j.sbatch_args = vec!["--array=0-9".into()];
        assert!(j.check().unwrap_err().to_string().contains("'--array=0-9'"));
    }

    #[test]
    fn writes_executable_scripts() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = job();
        j.out = dir.path().join("run");
        let w = j.write().unwrap();
        assert_eq!(w.len(), 3);
        assert!(j.out.join("parts").is_dir() && j.out.join("logs").is_dir());
        #[cfg(unix)]
        for p in &w {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
                0o755
            );
        }
        assert_eq!(std::fs::read_to_string(&w[0]).unwrap(), j.array_script());
    }

    #[test]
    fn parses_sbatch_parsable_output() {
        assert_eq!(parse_job_id("1234\n").unwrap(), "1234");
        assert_eq!(parse_job_id("77;cluster\n").unwrap(), "77");
        assert!(parse_job_id("").is_err());
        assert!(parse_job_id("sbatch: error: invalid partition").is_err());
    }
}
