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
    /// The provider is making the image.
    Running,
}

impl ProviderStage {
    /// A short stable form: `queued`, `queued:3` or `running`.
    pub fn encode(self) -> String {
        match self {
            ProviderStage::Queued {
                position: Some(position),
            } => format!("queued:{position}"),
            ProviderStage::Queued { position: None } => "queued".to_owned(),
            ProviderStage::Running => "running".to_owned(),
        }
    }

    /// The inverse of [`ProviderStage::encode`].
    pub fn decode(text: &str) -> Option<ProviderStage> {
        match text {
            "running" => Some(ProviderStage::Running),
            "queued" => Some(ProviderStage::Queued { position: None }),
            _ => text
                .strip_prefix("queued:")?
                .parse()
                .ok()
                .map(|position| ProviderStage::Queued {
                    position: Some(position),
                }),
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
            ProviderStage::Running,
        ] {
            assert_eq!(ProviderStage::decode(&stage.encode()), Some(stage));
        }
        assert_eq!(ProviderStage::decode("queued:x"), None);
    }

    #[tokio::test]
    async fn reports_reach_the_scope_and_nothing_outside_one() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        report(ProviderStage::Running);
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
