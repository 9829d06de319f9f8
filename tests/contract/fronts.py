"""Real reverse proxies from Debian's packages (nginx, HAProxy) in front of a contract Gradio server.

Hugging Face's edge is a reverse proxy, and so is what people put in front of their own Gradio: these
run the real binaries (``make proxies`` installs them with apt) on loopback ports, in the foreground,
with their files in a temporary folder. nginx serves plain http and https (the test certificate
authority's certificate, which the client trusts through ``SSL_CERT_FILE``) with response buffering
off, as Gradio's docs ask for its streams, and plain http behind basic auth (``nginx-basic``); HAProxy serves with keep-alive on one port and
``option httpclose`` (a connection per request) on another. Both pass ``X-Forwarded-Host`` and
``X-Forwarded-Proto``, from which Gradio builds its file URLs on the proxy's address.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

from netproxy import _CERT
from support.helpers import free_port

NGINX, HAPROXY = "/usr/sbin/nginx", "/usr/sbin/haproxy"
FRONTS = ("nginx-http", "nginx-https", "haproxy-keepalive", "haproxy-close")
BASIC = ("alice", "s3cr3t@/ pw%")  # nginx-basic's login: "{PLAIN}" in its htpasswd, which ends a password at ":"

_NGINX_CONF = """
worker_processes 1;
{user}
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 64m;
    upstream gradio {{ server 127.0.0.1:{upstream}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{basic};
        auth_basic "own server";
        auth_basic_user_file {dir}/htpasswd;
        location / {{
            proxy_pass http://gradio;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_buffering off;
        }}
    }}
    server {{
        listen 127.0.0.1:{http};
        listen 127.0.0.1:{https} ssl;
        ssl_certificate {pem};
        ssl_certificate_key {pem};
        location / {{
            proxy_pass http://gradio;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""

_HAPROXY_CONF = """
global
    maxconn 512
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 10s
frontend keepalive
    bind 127.0.0.1:{keepalive}
    option http-keep-alive
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request set-header X-Forwarded-Proto http
    default_backend gradio
frontend close
    bind 127.0.0.1:{close}
    option httpclose
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request set-header X-Forwarded-Proto http
    default_backend gradio
backend gradio
    option http-keep-alive
    server gradio 127.0.0.1:{upstream}
"""


def _wait_for(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, f"{proc.args[0]} exited: {log.read_text()[-2000:] if log.exists() else ''}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"{proc.args[0]} is not listening on {port} after {timeout} s")


@contextlib.contextmanager
def running_fronts(upstream: int) -> Iterator[dict[str, str]]:
    """Front name → its base URL, every front in front of ``127.0.0.1:upstream``."""
    for binary in (NGINX, HAPROXY):
        assert os.access(binary, os.X_OK), f"{binary} is missing: `make proxies` installs Debian's nginx and haproxy"
    folder = Path(tempfile.mkdtemp(prefix="g4f-fronts-"))
    pem = folder / "front.pem"
    _CERT.private_key_and_cert_chain_pem.write_to_path(str(pem))
    ports = {name: free_port() for name in (*FRONTS, "nginx-basic")}
    (folder / "htpasswd").write_text(f"{BASIC[0]}:{{PLAIN}}{BASIC[1]}\n")
    (folder / "nginx.conf").write_text(_NGINX_CONF.format(
        dir=folder, pem=pem, upstream=upstream, http=ports["nginx-http"], https=ports["nginx-https"],
        basic=ports["nginx-basic"],
        user="user root;" if os.geteuid() == 0 else ""))
    (folder / "haproxy.cfg").write_text(_HAPROXY_CONF.format(
        upstream=upstream, keepalive=ports["haproxy-keepalive"], close=ports["haproxy-close"]))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        log = folder / "nginx.out"
        with open(log, "wb") as out:
            procs.append(subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"),
                                           "-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT))
        _wait_for(ports["nginx-http"], procs[-1], folder / "error.log")
        log = folder / "haproxy.out"
        with open(log, "wb") as out:
            procs.append(subprocess.Popen([HAPROXY, "-db", "-f", str(folder / "haproxy.cfg")],
                                          stdout=out, stderr=subprocess.STDOUT))
        _wait_for(ports["haproxy-close"], procs[-1], log)
        yield {name: f"{'https' if name.endswith('https') else 'http'}://127.0.0.1:{port}"
               for name, port in ports.items()}
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def seed_in(data: bytes) -> int:
    """The seed ``apps.picture`` stamped along the image's bottom edge (32 squares of 8 px, one a bit)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        grey = img.convert("L")
    value = 0
    for bit in range(32):
        x, y = (bit % 16) * 8 + 2, grey.height - 16 + (bit // 16) * 8 + 2
        square = grey.crop((x, y, x + 4, y + 4)).tobytes()
        if sum(square) / len(square) > 128:
            value |= 1 << bit
    return value
