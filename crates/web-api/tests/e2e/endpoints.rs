//! Every endpoint's status and body, including FastAPI-shaped 404/405/422 answers.

use serde_json::json;

use crate::support::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_answer_like_the_fastapi_app() {
    let server = Server::start(&[]).await;
    let mut c = server.client().await;

    let r = c.get("/").await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"message": "Hello World"}))
    );
    assert_eq!(r.headers["content-type"], "application/json");
    let r = c.get("/health").await;
    assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})));

    let r = c.get("/items").await;
    assert_eq!((r.status, r.json()), (200, json!([])));
    let r = c.post("/items", r#"{"name":"pen","price":1.5}"#).await;
    assert_eq!(
        (r.status, r.json()),
        (201, json!({"id": 1, "name": "pen", "price": 1.5}))
    );
    let r = c.post("/items", r#"{"name":"ink","price":"2"}"#).await;
    assert_eq!(
        (r.status, r.json()),
        (201, json!({"id": 2, "name": "ink", "price": 2.0}))
    );
    let r = c.get("/items").await;
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    let r = c.get("/items/1").await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"id": 1, "name": "pen", "price": 1.5}))
    );
    let r = c.get("/items/99").await;
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"detail": "Item not found"}))
    );
    let r = c.get("/items/abc").await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json(),
        json!({"detail": [{"type": "int_parsing", "loc": ["path", "item_id"],
            "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "abc"}]})
    );

    let r = c.post("/items", r#"{"name":"","price":-1}"#).await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json(),
        json!({"detail": [
            {"type": "string_too_short", "loc": ["body", "name"], "msg": "String should have at least 1 character",
             "input": "", "ctx": {"min_length": 1}},
            {"type": "greater_than_equal", "loc": ["body", "price"], "msg": "Input should be greater than or equal to 0",
             "input": -1, "ctx": {"ge": 0}}
        ]})
    );
    let r = c.post("/items", r#"{"name":"pen"}"#).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["detail"][0]["loc"], json!(["body", "price"]));
    assert_eq!(r.json()["detail"][0]["msg"], "Field required");
    let r = c.post("/items", "{not json").await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["detail"][0]["type"], "json_invalid");
    let r = c.post("/items", "").await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["detail"][0]["loc"], json!(["body"]));

    let r = c
        .post(
            "/log",
            r#"{"severity":"warning","message":"disk almost full"}"#,
        )
        .await;
    assert_eq!(
        (r.status, r.json()),
        (
            200,
            json!({"logged": true, "severity": "WARNING", "message": "disk almost full"})
        )
    );
    let r = c.post("/log", r#"{"severity":"LOUD","message":"x"}"#).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["detail"][0]["type"], "literal_error");

    let r = c.get("/error").await;
    assert_eq!(
        (r.status, r.json()),
        (500, json!({"detail": "Internal Server Error"}))
    );

    let r = c.get("/slow?ms=20").await;
    assert_eq!((r.status, r.json()), (200, json!({"slept_ms": 20})));
    let r = c.get("/slow").await;
    assert_eq!(r.json(), json!({"slept_ms": 100}));
    let r = c.get("/slow?ms=soon").await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["detail"][0]["loc"], json!(["query", "ms"]));
    let r = c.get("/slow?ms=-5").await;
    assert_eq!(
        (r.status, r.json()["detail"][0]["type"].clone()),
        (422, json!("greater_than_equal"))
    );

    let r = c.get("/openapi.json").await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/",
        "/health",
        "/items",
        "/items/{item_id}",
        "/log",
        "/error",
        "/slow",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from openapi.json"
        );
    }
    let r = c.get("/docs").await;
    assert_eq!(r.status, 200);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = r.text();
    assert!(page.contains("/openapi.json"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "/docs must not fetch external assets"
    );

    let r = c.get("/nope").await;
    assert_eq!((r.status, r.json()), (404, json!({"detail": "Not Found"})));
    let r = c
        .send(hyper::Method::DELETE, "/items", &[], "")
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()),
        (405, json!({"detail": "Method Not Allowed"}))
    );
}
