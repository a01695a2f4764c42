//! The fuzzing harness's shared half: a checked-in corpus per target, and a
//! proptest strategy that mutates its seeds the way a coverage-guided
//! fuzzer's first passes do (byte flips, inserted tokens, truncation,
//! splices of two seeds).
//!
//! Each target replays its whole corpus, then runs `PROPTEST_CASES` (256
//! by default; CI's bounded pass) mutated inputs. Proptest records a
//! failing input in the crate's `proptest-regressions/`, which is checked
//! in, and a crash worth keeping also goes into the corpus itself.

use std::path::Path;

use proptest::{prelude::*, sample::Index};

/// Every file of `dir`, in name order.
pub fn corpus(dir: impl AsRef<Path>) -> Vec<(String, Vec<u8>)> {
    let dir = dir.as_ref();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    entries.sort();
    let files: Vec<_> = entries
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("corpus file"))
        })
        .collect();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    files
}

/// One edit of a mutation.
#[derive(Debug, Clone)]
enum Edit {
    Flip(Index, u8),
    Insert(Index, &'static [u8]),
    Delete(Index, usize),
    Truncate(Index),
    Splice(Index, Index, Index),
}

/// Mutations of `seeds`, with `tokens` as the interesting byte strings to
/// insert (a format's keywords, escapes and delimiters).
pub fn mutated(
    seeds: Vec<Vec<u8>>,
    tokens: &'static [&'static [u8]],
) -> impl Strategy<Value = Vec<u8>> {
    let count = seeds.len();
    let edit = prop_oneof![
        4 => (any::<Index>(), any::<u8>()).prop_map(|(at, bits)| Edit::Flip(at, bits)),
        4 => (any::<Index>(), proptest::sample::select(tokens)).prop_map(|(at, t)| Edit::Insert(at, t)),
        2 => (any::<Index>(), 1usize..16).prop_map(|(at, n)| Edit::Delete(at, n)),
        1 => any::<Index>().prop_map(Edit::Truncate),
        1 => (any::<Index>(), any::<Index>(), any::<Index>()).prop_map(|(o, f, t)| Edit::Splice(o, f, t)),
    ];
    (0..count, proptest::collection::vec(edit, 0..6)).prop_map(move |(seed, edits)| {
        let mut bytes = seeds[seed].clone();
        for edit in edits {
            let len = bytes.len().max(1);
            match edit {
                Edit::Flip(at, bits) => {
                    if !bytes.is_empty() {
                        let i = at.index(len);
                        bytes[i] ^= bits | 1;
                    }
                }
                Edit::Insert(at, token) => {
                    let i = at.index(len + 1).min(bytes.len());
                    bytes.splice(i..i, token.iter().copied());
                }
                Edit::Delete(at, n) => {
                    let i = at.index(len).min(bytes.len());
                    let end = (i + n).min(bytes.len());
                    bytes.drain(i..end);
                }
                Edit::Truncate(at) => bytes.truncate(at.index(len)),
                Edit::Splice(other, from, to) => {
                    let donor = &seeds[other.index(count)];
                    if !donor.is_empty() {
                        let from = from.index(donor.len());
                        let i = to.index(len).min(bytes.len());
                        bytes.truncate(i);
                        bytes.extend_from_slice(&donor[from..]);
                    }
                }
            }
        }
        bytes
    })
}
