//! The embedded queue's cap on one organisation's thumbnails in flight.
//! On Redis the queue keeps the cap for every worker (`fair.rs` in
//! thumbforge-queue); the embedded queue has one worker process, so the
//! cap is a semaphore per organisation here. A job over its
//! organisation's cap waits for a permit before it claims its thumbnail.
//! Jobs reach the worker in fair order, so another organisation's
//! thumbnail is next as soon as a job ends.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use thumbforge_queue::{Fairness, RenderThumbnail};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug)]
pub struct OrgSlots {
    fairness: Fairness,
    orgs: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl OrgSlots {
    pub fn new(fairness: Fairness) -> OrgSlots {
        OrgSlots {
            fairness,
            orgs: Mutex::default(),
        }
    }

    /// Waits for a place among the job's organisation's thumbnails in
    /// flight. None when nothing caps it: no cap on its plan, a job a
    /// caller waits on (it goes ahead of batch work), or a re-push that
    /// does not carry the plan.
    pub async fn acquire(&self, job: &RenderThumbnail) -> Option<OwnedSemaphorePermit> {
        let cap = job
            .plan
            .map_or(0, |plan| self.fairness.of(plan).max_in_flight);
        if cap == 0 || job.sync {
            return None;
        }
        let semaphore = self
            .orgs
            .lock()
            .ok()?
            .entry(job.org_id.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(cap as usize)))
            .clone();
        semaphore.acquire_owned().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use thumbforge_core::Plan;
    use thumbforge_queue::OrgPolicy;

    use super::*;

    fn job(org: &str, sync: bool) -> RenderThumbnail {
        RenderThumbnail {
            org_id: org.to_owned(),
            plan: Some(Plan::Free),
            sync,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn an_org_at_its_cap_waits_and_others_do_not() {
        let slots = OrgSlots::new(Fairness {
            free: OrgPolicy {
                weight: 1,
                max_in_flight: 2,
                max_queued: 0,
            },
            ..Fairness::EVEN
        });
        let first = slots.acquire(&job("a", false)).await;
        let second = slots.acquire(&job("a", false)).await;
        assert!(first.is_some() && second.is_some());
        let (a, b, a_sync) = (job("a", false), job("b", false), job("a", true));
        let wait = Duration::from_millis(50);
        let third = tokio::time::timeout(wait, slots.acquire(&a)).await;
        assert!(third.is_err(), "a third of org a waits");
        let other = tokio::time::timeout(wait, slots.acquire(&b)).await;
        assert!(other.is_ok(), "org b is not held up by org a");
        let sync = tokio::time::timeout(wait, slots.acquire(&a_sync)).await;
        assert!(sync.is_ok(), "a sync job is not capped");
        drop(first);
        let third = tokio::time::timeout(wait, slots.acquire(&a)).await;
        assert!(third.is_ok(), "a place freed lets the next one in");
    }
}
