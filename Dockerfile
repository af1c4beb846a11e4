# The gameday image: the `gameday` command (runner, fault gateway, scheduler) and the demo
# service (`python -m gameday.demo`). compose.yaml builds it as gameday:local.
#
#   docker build -t gameday:local .
#   docker run --rm -e GAMEDAY_GATEWAY_TOKEN=... gameday:local gateway \
#       --upstream http://host.docker.internal:4566 --listen 0.0.0.0:4567
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the wheel is built from: the package and the files pyproject.toml names.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gameday ./gameday
RUN pip install . && rm -rf /src

# Drills never need root; the history store and reports go to the user's home by default.
RUN useradd --create-home --uid 10001 --user-group gameday
USER gameday
WORKDIR /home/gameday

# The gateway's and the demo service's ports in compose.yaml.
EXPOSE 4567 8080

ENTRYPOINT ["gameday"]
CMD ["--help"]
