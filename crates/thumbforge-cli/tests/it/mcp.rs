//! MCP at `POST /api/mcp`, driven by a real MCP client: the official
//! Python SDK (`scripts/mcp_client.py`).

use serde_json::Value;

use crate::helpers::TestApp;

#[tokio::test]
async fn an_mcp_client_lists_tools_and_generates_with_a_key() {
    let app = TestApp::spawn().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/mcp_client.py");
    let url = format!("{}/api/mcp", app.address);
    let key = app.key.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([script, &url, &key])
            .output()
            .expect("python3 runs (scripts/test.sh installs it and the mcp SDK)")
    })
    .await
    .expect("joined");
    assert!(
        out.status.success(),
        "the MCP client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(
        report["tools"],
        serde_json::json!(["generate_thumbnail", "get_generation", "search_youtube"])
    );
    let refused = &report["without_key"];
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("API key"))
            || refused["is_error"] == true,
        "tools/call needs a key: {refused}"
    );
    let run = &report["run"];
    assert!(
        run["started"]["generationId"]
            .as_str()
            .is_some_and(|id| id.starts_with("gen_"))
    );
    let finished = &run["finished"];
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["thumbnails"].as_array().map(Vec::len), Some(2));
    let url = finished["thumbnails"][0]["url"].as_str().expect("url");
    assert_eq!(app.download(url).await.status(), 200);

    // Raw JSON-RPC, as a stateless client sends it: initialize needs no key.
    let response = app
        .client
        .post(format!("{}/api/mcp", app.address))
        .header("Accept", "application/json, text/event-stream")
        .json(&serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "1"}}
        }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["result"]["serverInfo"]["name"], "thumbforge");
}
