//! Images in S3-compatible object storage (a private moto server): workers
//! write there, the API's `/files` route or a presigned URL hands them out,
//! a free plan only ever reaches its watermarked copy, and deleting a
//! generation deletes its objects. Nothing is written to local disk.

use reqwest::Method;
use serde_json::{Value, json};
use thumbforge_config::{FileUrls, Settings};
use thumbforge_core::OutputFormat;
use thumbforge_core::Plan;
use thumbforge_storage::{S3Options, Storage, StorageError, thumbnail_key, watermarked_key};
use thumbforge_testkit::S3Server;

use crate::helpers::TestApp;

const ID: &str = "test-key-id";
const SECRET: &str = "test-secret-key";

fn on_bucket(s3: &S3Server, urls: FileUrls) -> impl FnOnce(&mut Settings) {
    let endpoint = s3.endpoint();
    let url = format!("s3://{}/tenant-a/images", s3.bucket());
    move |s| {
        s.storage.url = url;
        s.storage.endpoint = Some(endpoint);
        s.storage.region = Some("us-east-1".to_owned());
        s.storage.allow_http = true;
        s.storage.access_key_id = Some(ID.to_owned());
        s.storage.secret_access_key = Some(SECRET.to_owned().into());
        s.storage.urls = urls;
    }
}

/// A second, independent client of the same bucket and prefix.
fn bucket(s3: &S3Server) -> Storage {
    Storage::s3(&S3Options {
        url: format!("s3://{}/tenant-a/images", s3.bucket()),
        endpoint: Some(s3.endpoint()),
        region: Some("us-east-1".to_owned()),
        access_key_id: Some(ID.to_owned()),
        secret_access_key: Some(SECRET.to_owned()),
        allow_http: true,
        timeout: std::time::Duration::from_secs(10),
        connect_timeout: std::time::Duration::from_secs(5),
        ..S3Options::default()
    })
    .expect("a client of the bucket")
}

fn png(bytes: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory(bytes).expect("a PNG");
    (image.width(), image.height())
}

async fn made(app: &TestApp, key: &str, prompt: &str) -> (String, String, Value) {
    let id = app.generate(key, json!({ "prompt": prompt })).await;
    let done = app.wait_terminal(key, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let thumbnail = done["thumbnails"][0]["id"].as_str().expect("id").to_owned();
    (id, thumbnail, done)
}

#[tokio::test]
async fn images_live_in_the_bucket_are_served_by_the_api_and_leave_with_their_generation() {
    let s3 = S3Server::start("thumbs").expect("moto");
    let app = TestApp::spawn_with(on_bucket(&s3, FileUrls::Api)).await;
    let free = app.create_key("free-org", Plan::Free).await;
    let (id, thumbnail, done) = made(&app, &free, "Stored in a bucket").await;
    let store = bucket(&s3);

    // Both copies are in the bucket, under the prefix; none on local disk.
    let clean = store
        .get(&thumbnail_key(&id, &thumbnail, OutputFormat::Png))
        .await
        .expect("the clean copy");
    let marked = store
        .get(&watermarked_key(&id, &thumbnail, OutputFormat::Png))
        .await
        .expect("the watermarked copy");
    assert_eq!(png(&clean), (1280, 720));
    assert_ne!(clean, marked);
    assert!(
        !app.settings.images_dir().exists(),
        "nothing written under {}",
        app.settings.images_dir().display()
    );

    // The record's URL is the API's: it serves the watermarked copy.
    let url = done["thumbnails"][0]["url"].as_str().expect("url");
    assert!(url.starts_with(&app.address), "{url}");
    let served = app.download(url).await.bytes().await.expect("bytes");
    assert_eq!(served, marked, "a free plan gets the watermarked object");

    // Deleting the generation deletes its objects.
    let response = app
        .send(
            Method::DELETE,
            &format!("/api/v1/generations/{id}"),
            &free,
            None,
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    for key in [
        thumbnail_key(&id, &thumbnail, OutputFormat::Png),
        watermarked_key(&id, &thumbnail, OutputFormat::Png),
    ] {
        assert!(
            matches!(store.get(&key).await, Err(StorageError::NotFound(_))),
            "{key} is gone"
        );
    }
}

#[tokio::test]
async fn presigned_urls_reach_the_bucket_and_only_the_watermarked_copy_on_a_free_plan() {
    let s3 = S3Server::start("thumbs").expect("moto");
    let app = TestApp::spawn_with(on_bucket(&s3, FileUrls::Presigned)).await;
    let store = bucket(&s3);

    let free = app.create_key("free-org", Plan::Free).await;
    let (id, thumbnail, done) = made(&app, &free, "Presigned and watermarked").await;
    let url = done["thumbnails"][0]["url"].as_str().expect("url");
    let prefix = format!("{}/thumbs/tenant-a/images/thumbnails/{id}/", s3.endpoint());
    assert!(url.starts_with(&prefix), "{url} is the bucket's");
    assert!(
        url.contains(".wm.png?"),
        "{url} names the watermarked object"
    );
    assert!(url.contains("X-Amz-Signature="), "{url} is presigned");
    let fetched = reqwest::get(url).await.expect("GET");
    assert_eq!(fetched.status(), 200);
    let bytes = fetched.bytes().await.expect("bytes");
    let marked = store
        .get(&watermarked_key(&id, &thumbnail, OutputFormat::Png))
        .await
        .expect("object");
    assert_eq!(bytes, marked);
    // Signed with the configured key, for the API's URL lifetime. (moto
    // does not check SigV4 signatures, so a forged one would pass here;
    // the signing is object_store's.)
    assert!(url.contains(&format!("X-Amz-Credential={ID}%2F")), "{url}");
    let ttl = app.settings.api.url_ttl_secs;
    assert!(url.contains(&format!("X-Amz-Expires={ttl}")), "{url}");

    // A paying plan's URL is of its clean copy.
    let (id, thumbnail, done) = made(&app, &app.key, "Presigned and clean").await;
    let url = done["thumbnails"][0]["url"].as_str().expect("url");
    assert!(url.contains(&format!("/{thumbnail}.png?")), "{url}");
    let bytes = reqwest::get(url)
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("bytes");
    let clean = store
        .get(&thumbnail_key(&id, &thumbnail, OutputFormat::Png))
        .await
        .expect("object");
    assert_eq!(bytes, clean);
    assert_eq!(png(&bytes), (1280, 720));
}
