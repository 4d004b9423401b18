//! `cpd pool`: a per-atom `.npz` pooled once into a per-structure `.npz`.

use std::process::ExitCode;

use anyhow::bail;

use super::args::PoolArgs;

pub fn run(args: PoolArgs) -> anyhow::Result<ExitCode> {
    let pool = args.pool.unwrap_or_default();
    let file = cpd::io::embeddings::load_pooled(&args.file, pool)?;
    let Some(atoms) = file.atoms else {
        bail!(
            "{}: not a per-atom file (no 'structure' or 'n_atoms' array)",
            args.file.display()
        );
    };
    cpd::io::peratom::write_npz(&file, &args.out)?;
    let layers: Vec<String> = file
        .layers
        .iter()
        .map(|l| format!("{} ({})", l.name, l.data.ncols()))
        .collect();
    let rows = file.layers[0].data.nrows();
    println!(
        "wrote {}: {atoms} atoms pooled ({}) into {rows} structures; layers {}",
        args.out.display(),
        pool.name(),
        layers.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
