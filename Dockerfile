# The mock in a container, all four APIs on port 8000:
#   docker build -t capture-contracts .
#   docker run -p 8000:8000 capture-contracts
# Off loopback the admin API (/__admin, the dashboard too) answers only with a token:
#   docker run -p 8000:8000 capture-contracts serve --host 0.0.0.0 --admin-token "$TOKEN"
# The vendor APIs themselves answer anyone. tests/test_recipes.py runs the RUN pip line and
# the ENTRYPOINT + CMD below in a fresh virtualenv, and the HEALTHCHECK against it.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 mock
COPY . /tmp/src
RUN pip install --no-cache-dir /tmp/src && rm -rf /tmp/src

USER mock
WORKDIR /home/mock
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/__admin/health', timeout=2)"]
ENTRYPOINT ["mockserver"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
