//! Every job type the worker runs, one per file, registered in `runtime`.

pub mod render_thumbnail;
