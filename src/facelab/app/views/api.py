"""API: the endpoint of `facelab serve`, with curl and Python examples that work against it."""
from __future__ import annotations

import streamlit as st

from facelab.app.common import config, run_names

cfg = config()
st.title("REST API")
st.markdown("Start the API on the same runs with "
            f"`facelab serve --runs-dir {cfg.runs} --port 8000`; its interactive docs are at `/docs`.")
url = st.text_input("API URL", cfg.api, key="api_url").rstrip("/")
names = run_names(str(cfg.runs))
run = names[0] if names else "RUN"

if st.button("Check the API", key="api_check"):
    import requests

    try:
        r = requests.get(f"{url}/v1/health", timeout=3)
        st.success(f"{r.status_code}: {r.json()}") if r.ok else st.error(f"{r.status_code}: {r.text[:300]}")
    except requests.RequestException as e:
        st.error(f"the API at {url} did not answer ({type(e).__name__}) — is `facelab serve` running?")

st.subheader("Endpoints")
st.markdown(
    "| method | path | body | answer |\n|---|---|---|---|\n"
    "| POST | `/v1/predict` | multipart `file` (+ `run`), or JSON `{\"image\": base64, \"run\": name}` | faces with box, probabilities, labels |\n"
    "| POST | `/v1/predict/batch` | multipart `files` (repeated), or JSON `{\"images\": [{\"image\": …}]}` | one result per photo |\n"
    "| GET | `/v1/models` | — | served runs: target, metrics, input geometry |\n"
    "| GET | `/v1/health` | — | status, runs, failed runs |\n")
st.caption("Omit `run` to predict with every served run. Errors are JSON `{error, fix, request_id}`: "
           "415 not an image, 413 too large, 404 unknown run, 422 malformed JSON/base64.")

st.subheader("curl")
st.code(f"""# one photo, multipart
curl -s -F file=@photo.jpg "{url}/v1/predict?run={run}"

# one photo, JSON with base64
curl -s -H 'content-type: application/json' \\
  -d "{{\\"image\\": \\"$(base64 -w0 photo.jpg)\\", \\"run\\": \\"{run}\\"}}" {url}/v1/predict

# several photos
curl -s -F files=@a.jpg -F files=@b.jpg {url}/v1/predict/batch

curl -s {url}/v1/models
curl -s {url}/v1/health""", language="bash")

st.subheader("Python")
st.code(f"""import base64, requests

with open("photo.jpg", "rb") as f:
    r = requests.post("{url}/v1/predict", files={{"file": ("photo.jpg", f, "image/jpeg")}},
                      params={{"run": "{run}"}}, timeout=30)
r.raise_for_status()
for pred in r.json()["predictions"]:
    for face in pred["faces"]:
        print(pred["run"], face["box"], face["labels"], face["probabilities"])
    if not pred["faces"]:
        print(pred["run"], pred["note"])

# JSON with base64
image = base64.b64encode(open("photo.jpg", "rb").read()).decode()
r = requests.post("{url}/v1/predict", json={{"image": image, "run": "{run}"}}, timeout=30)
print(r.json())""", language="python")
st.caption("A sample photo to try is on the Predict page (Samples → download).")
