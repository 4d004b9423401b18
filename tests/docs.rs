//! The generated reference pages are the binary's: `docs/cli.md` (every
//! command and flag) and `docs/settings.md` (every setting).

use crate::util::{cpd, root, text};

/// The committed page `rel` is what `cpd reference PAGE` prints.
fn page_is_generated(page: &str, rel: &str) {
    let o = cpd(&root(), &["reference", page]);
    assert!(o.status.success(), "{:?}", text(&o));
    let committed = std::fs::read_to_string(root().join(rel)).expect("the page is committed");
    assert!(
        committed == text(&o).0,
        "{rel} differs from the binary's; regenerate it: cargo run -q -- reference {page} > {rel}"
    );
}

#[test]
fn the_command_reference_is_the_binarys() {
    page_is_generated("cli", "docs/cli.md");
}

#[test]
fn the_settings_reference_is_the_binarys() {
    page_is_generated("settings", "docs/settings.md");
}
