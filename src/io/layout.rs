//! Layer layouts stored in an `.npz`: the member `irreps/LAYER` holds the
//! e3nn irreps string of layer `LAYER` (for example `128x0e+64x1o+32x2e`),
//! so that `cpd analyze` probes its channel groups without `--irreps` and
//! `cpd inspect` shows them.
//!
//! The member is a numpy string scalar or one-element array, written with
//! `np.savez(path, l0=h, **{"irreps/l0": np.array("128x0e+64x1o")})`:
//! dtype `<U…`/`>U…` (UTF-32, numpy's `str`) or `|S…` (bytes, ASCII/UTF-8),
//! shape `()` or `(1,)`. Trailing NULs (numpy's padding) are dropped. The
//! string is parsed and checked against the layer's width when the file is
//! read, so a wrong layout is an error naming the member.

use std::io::{Cursor, Read};
use std::path::Path;

use ndarray_npy::npy::header::Header;
use py_literal::Value as PyValue;

use crate::error::{CpdError, Result};
use crate::io::npy::{check_header_len, Layer};

/// Prefix of the members that hold a layer's irreps.
pub const IRREPS_PREFIX: &str = "irreps/";

/// Largest irreps member accepted (a layout string is short).
const MAX_MEMBER: u64 = 1 << 20;

/// The layer an `irreps/LAYER` member name refers to.
pub fn irreps_layer(name: &str) -> Option<&str> {
    name.strip_prefix(IRREPS_PREFIX)
}

/// Read a numpy string scalar (or one-element 1-D string array) of
/// `declared` bytes from `r`.
pub fn read_string_member<R: Read>(r: R, declared: u64, path: &Path, name: &str) -> Result<String> {
    let what = format!("array '{name}'");
    if declared > MAX_MEMBER {
        return Err(CpdError::format(
            path,
            format!("{what}: {declared} bytes is too long for a layout string"),
        ));
    }
    let mut bytes = Vec::new();
    r.take(declared + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CpdError::format(path, format!("{what}: {e}")))?;
    check_header_len(
        &bytes[..bytes.len().min(12)],
        bytes.len() as u64,
        path,
        &what,
    )?;
    let mut cur = Cursor::new(&bytes[..]);
    let header = Header::from_reader(&mut cur)
        .map_err(|e| CpdError::format(path, format!("{what}: not a valid .npy: {e}")))?;
    let data = &bytes[cur.position() as usize..];
    let bad = || {
        CpdError::format(
            path,
            format!(
                "{what} must be one string (np.array(\"128x0e+64x1o\")), found dtype {} shape {:?}",
                header.type_descriptor, header.shape
            ),
        )
    };
    let count: usize = header.shape.iter().product();
    if header.shape.len() > 1 || count != 1 {
        return Err(bad());
    }
    let PyValue::String(descr) = &header.type_descriptor else {
        return Err(bad());
    };
    let (order, kind, width) = {
        let b = descr.as_bytes();
        if b.len() < 3 {
            return Err(bad());
        }
        let width: usize = descr[2..].parse().map_err(|_| bad())?;
        (b[0], b[1], width)
    };
    let text = match kind {
        b'U' => {
            if data.len() != width * 4 {
                return Err(bad());
            }
            let mut s = String::with_capacity(width);
            for c in data.chunks_exact(4) {
                let c: [u8; 4] = c.try_into().expect("4 bytes");
                let u = if order == b'>' {
                    u32::from_be_bytes(c)
                } else {
                    u32::from_le_bytes(c)
                };
                if u == 0 {
                    break;
                }
                s.push(char::from_u32(u).ok_or_else(bad)?);
            }
            s
        }
        b'S' => {
            if data.len() != width {
                return Err(bad());
            }
            let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
            String::from_utf8(data[..end].to_vec()).map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    Ok(text)
}

/// Attach `(layer, irreps)` pairs read from `irreps/LAYER` members to the
/// layers, checking that each names a layer.
pub fn attach_irreps(
    layers: &mut [Layer],
    irreps: Vec<(String, String)>,
    path: &Path,
) -> Result<()> {
    for (name, text) in irreps {
        let member = format!("{IRREPS_PREFIX}{name}");
        let Some(layer) = layers.iter_mut().find(|l| l.name == name) else {
            let have: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
            return Err(CpdError::format(
                path,
                format!(
                    "array '{member}' names no layer (the layers are: {})",
                    have.join(", ")
                ),
            ));
        };
        // The string is parsed, and checked against the layer's width, where
        // it is used (`cpd analyze`'s channel groups, `cpd inspect`), so that
        // loading does not depend on the analyses.
        layer.irreps = Some(text);
    }
    Ok(())
}
