"""The reward server: `rewardsmith serve`, FastAPI behind uvicorn worker processes.

`run.serve` is the launcher the CLI calls; `app.create_app` builds the ASGI app of one
worker process. Endpoints: `POST /get_reward` (the OpenRLHF remote reward-model
protocol), `POST /v1/score` (native batches), `GET /healthz`, `GET /readyz`,
`GET /metrics` (Prometheus) and `GET /openapi.json`.
"""
