//! What a provider says about a call in flight (fal's queue position,
//! kie's task state), passed from the adapter that polls it to whoever
//! runs the call, without threading it through `ImageModel`: the render
//! job opens a scope with a reporter, and adapters call [`report`], which
//! does nothing outside a scope.

use std::sync::Arc;

/// Where the provider has a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderStage {
    /// Waiting in the provider's own queue, at `position` when it says.
    Queued { position: Option<u32> },
    /// The provider is making the image, `percent` done when it says
    /// (ComfyUI's sampler steps, sdapi's progress).
    Running { percent: Option<u8> },
}

impl ProviderStage {
    /// Running, with no figure.
    pub const RUNNING: ProviderStage = ProviderStage::Running { percent: None };

    /// Running, `done` of the way (0.0 to 1.0), in steps of 5%: a figure
    /// worth showing, without a write for every sampler step.
    pub fn running_at(done: f64) -> ProviderStage {
        let percent = (done.clamp(0.0, 1.0) * 20.0).floor() as u8 * 5;
        ProviderStage::Running {
            percent: Some(percent),
        }
    }

    pub fn is_running(self) -> bool {
        matches!(self, ProviderStage::Running { .. })
    }

    /// A short stable form: `queued`, `queued:3`, `running` or
    /// `running:40`.
    pub fn encode(self) -> String {
        match self {
            ProviderStage::Queued {
                position: Some(position),
            } => format!("queued:{position}"),
            ProviderStage::Queued { position: None } => "queued".to_owned(),
            ProviderStage::Running { percent: None } => "running".to_owned(),
            ProviderStage::Running {
                percent: Some(percent),
            } => format!("running:{percent}"),
        }
    }

    /// The inverse of [`ProviderStage::encode`].
    pub fn decode(text: &str) -> Option<ProviderStage> {
        match text {
            "running" => Some(ProviderStage::RUNNING),
            "queued" => Some(ProviderStage::Queued { position: None }),
            _ => {
                if let Some(percent) = text.strip_prefix("running:") {
                    return percent.parse().ok().filter(|p| *p <= 100).map(|percent| {
                        ProviderStage::Running {
                            percent: Some(percent),
                        }
                    });
                }
                text.strip_prefix("queued:")?
                    .parse()
                    .ok()
                    .map(|position| ProviderStage::Queued {
                        position: Some(position),
                    })
            }
        }
    }
}

/// Receives each stage an adapter reports.
pub type Reporter = Arc<dyn Fn(ProviderStage) + Send + Sync>;

tokio::task_local! {
    static REPORTER: Reporter;
}

/// Runs `work` with `reporter` receiving what its adapters report.
pub async fn scope<F: Future>(reporter: Reporter, work: F) -> F::Output {
    REPORTER.scope(reporter, work).await
}

/// Reports where the provider has the call in this scope, if any.
pub fn report(stage: ProviderStage) {
    let _ = REPORTER.try_with(|reporter| reporter(stage));
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn stages_read_back_as_written() {
        for stage in [
            ProviderStage::Queued { position: Some(3) },
            ProviderStage::Queued { position: None },
            ProviderStage::RUNNING,
            ProviderStage::running_at(0.42),
        ] {
            assert_eq!(ProviderStage::decode(&stage.encode()), Some(stage));
        }
        assert_eq!(ProviderStage::decode("queued:x"), None);
        assert_eq!(ProviderStage::decode("running:101"), None);
        assert_eq!(
            ProviderStage::running_at(0.42),
            ProviderStage::Running { percent: Some(40) }
        );
        assert_eq!(ProviderStage::running_at(1.7).encode(), "running:100");
    }

    #[tokio::test]
    async fn reports_reach_the_scope_and_nothing_outside_one() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        report(ProviderStage::RUNNING);
        scope(
            Arc::new(move |stage| sink.lock().expect("lock").push(stage)),
            async { report(ProviderStage::Queued { position: Some(2) }) },
        )
        .await;
        assert_eq!(
            *seen.lock().expect("lock"),
            [ProviderStage::Queued { position: Some(2) }]
        );
    }
}
