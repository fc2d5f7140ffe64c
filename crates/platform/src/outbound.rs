//! Answers from other systems (the issuer's JWKS, Hydra's admin API) are read within a size limit, as they
//! are within a time limit: a broken or hostile server that answers with an endless body costs a bounded
//! amount of memory, and the call fails instead.

/// Why an answer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the answer is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the answer could not be read: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("the answer is not the JSON expected: {0}")]
    Json(#[from] serde_json::Error),
}

/// The body of `response`, if it has at most `limit` bytes; read no further than that.
pub async fn body_within(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(ReadError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The body of `response` as JSON of type `T`, if it has at most `limit` bytes.
pub async fn json_within<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    limit: usize,
) -> Result<T, ReadError> {
    Ok(serde_json::from_slice(&body_within(response, limit).await?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server answering every request with `body`: with a Content-Length, or in 1 KiB chunks without one.
    async fn serving(body: Vec<u8>, chunked: bool) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(move || {
            let body = body.clone();
            async move {
                if !chunked {
                    return axum::body::Body::from(body);
                }
                let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body.chunks(1024).map(|c| Ok(c.to_vec())).collect();
                axum::body::Body::from_stream(futures::stream::iter(chunks))
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn an_answer_within_the_limit_is_read_and_a_larger_one_is_refused_with_or_without_its_length() {
        let client = reqwest::Client::new();
        for chunked in [false, true] {
            let small = serving(br#"{"keys": []}"#.to_vec(), chunked).await;
            let keys: serde_json::Value = json_within(client.get(&small).send().await.unwrap(), 1024).await.unwrap();
            assert_eq!(keys, serde_json::json!({"keys": []}));
            let huge = serving(vec![b' '; 1 << 20], chunked).await;
            let refused = body_within(client.get(&huge).send().await.unwrap(), 64 * 1024).await;
            assert!(matches!(refused, Err(ReadError::TooLarge { limit: 65_536 })), "chunked {chunked}: {refused:?}");
        }
    }
}
