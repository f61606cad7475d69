# One image for every service and worker: the Deployment's command picks which one runs
# (uvicorn services.<name>.app:create_app, python -m services.<name>.worker, ...).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reference reference
COPY services services
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin shop
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
EXPOSE 8080
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
HEALTHCHECK NONE
CMD ["python", "-c", "print('set the command: see cfn/k8s.py')"]
