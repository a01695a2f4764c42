//! The YouTube search behind Flokan's `POST /youtube-search` and MCP's
//! `search_youtube`, on the YouTube Data API v3: `search.list`
//! (`part=snippet`, `type=video`) for the videos and the next page token,
//! then one `videos.list` (`part=statistics`) for their view counts. Docs:
//! <https://developers.google.com/youtube/v3/docs/search/list>,
//! <https://developers.google.com/youtube/v3/docs/videos/list>.

use std::collections::HashMap;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use thumbforge_core::ErrorCode;
use tracing::warn;

use crate::{AppState, error::ApiError};

/// One page of results.
#[derive(Debug, Serialize)]
pub struct SearchPage {
    pub results: Vec<SearchResult>,
    pub next_page_token: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SearchResult {
    pub video_id: String,
    pub title: String,
    pub channel_name: String,
    pub thumbnail_url: String,
    /// A string, as YouTube (and Flokan) give it.
    pub view_count: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchList {
    #[serde(default)]
    items: Vec<SearchItem>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchItem {
    id: SearchId,
    snippet: Snippet,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchId {
    video_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snippet {
    title: String,
    channel_title: String,
    #[serde(default)]
    thumbnails: HashMap<String, Thumb>,
}

#[derive(Deserialize)]
struct Thumb {
    url: String,
}

#[derive(Deserialize)]
struct VideoList {
    #[serde(default)]
    items: Vec<Video>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Video {
    id: String,
    statistics: Option<Statistics>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Statistics {
    view_count: Option<String>,
}

fn unavailable(detail: &str) -> ApiError {
    ApiError::Upstream {
        code: ErrorCode::YoutubeUnavailable,
        detail: detail.to_owned(),
    }
}

async fn fetch<T: serde::de::DeserializeOwned>(
    state: &AppState,
    path: &str,
    params: &[(&str, &str)],
) -> Result<T, ApiError> {
    let settings = &state.youtube;
    let key = settings
        .api_key
        .as_ref()
        .ok_or(ApiError::YoutubeNotConfigured)?;
    let mut all: Vec<(&str, &str)> = params.to_vec();
    all.push(("key", key.expose_secret()));
    let url = reqwest::Url::parse_with_params(
        &format!("{}{path}", settings.base_url.trim_end_matches('/')),
        &all,
    )
    .map_err(|_| unavailable("the YouTube base URL is not valid"))?;
    let response = state
        .http
        .get(url)
        .timeout(std::time::Duration::from_secs(settings.timeout_secs))
        .send()
        .await
        .map_err(|_| unavailable("YouTube could not be reached"))?;
    if !response.status().is_success() {
        // The body may echo the key in a URL; only the status is logged.
        warn!(
            status = response.status().as_u16(),
            path, "YouTube answered an error"
        );
        return Err(unavailable(&format!(
            "YouTube answered HTTP {}",
            response.status().as_u16()
        )));
    }
    response
        .json()
        .await
        .map_err(|_| unavailable("YouTube answered in an unexpected format"))
}

/// Videos matching `query` (1 to 200 characters), a page of
/// `youtube.max_results`, with their view counts.
pub async fn search(
    state: &AppState,
    query: &str,
    page_token: Option<&str>,
) -> Result<SearchPage, ApiError> {
    let query = query.trim();
    let chars = query.chars().count();
    if !(1..=200).contains(&chars) {
        return Err(ApiError::invalid(
            ErrorCode::InvalidQuery,
            format!("query must be 1 to 200 characters (got {chars})"),
        ));
    }
    let max = state.youtube.max_results.to_string();
    let mut params = vec![
        ("part", "snippet"),
        ("type", "video"),
        ("q", query),
        ("maxResults", max.as_str()),
    ];
    if let Some(token) = page_token {
        params.push(("pageToken", token));
    }
    let found: SearchList = fetch(state, "/youtube/v3/search", &params).await?;
    let ids: Vec<String> = found
        .items
        .iter()
        .filter_map(|i| i.id.video_id.clone())
        .collect();
    let mut views: HashMap<String, String> = HashMap::new();
    if !ids.is_empty() {
        let joined = ids.join(",");
        let videos: VideoList = fetch(
            state,
            "/youtube/v3/videos",
            &[("part", "statistics"), ("id", joined.as_str())],
        )
        .await?;
        views = videos
            .items
            .into_iter()
            .filter_map(|v| Some((v.id, v.statistics?.view_count?)))
            .collect();
    }
    let results: Vec<SearchResult> = found
        .items
        .into_iter()
        .filter_map(|item| {
            let video_id = item.id.video_id?;
            let thumbs = &item.snippet.thumbnails;
            let thumbnail_url = ["high", "medium", "default"]
                .iter()
                .find_map(|size| thumbs.get(*size))
                .map(|t| t.url.clone())
                .unwrap_or_else(|| format!("https://i.ytimg.com/vi/{video_id}/hqdefault.jpg"));
            Some(SearchResult {
                view_count: views.get(&video_id).cloned(),
                video_id,
                title: item.snippet.title,
                channel_name: item.snippet.channel_title,
                thumbnail_url,
            })
        })
        .collect();
    Ok(SearchPage {
        results,
        next_page_token: found.next_page_token,
    })
}
