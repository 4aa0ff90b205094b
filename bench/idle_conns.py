#!/usr/bin/env python3
"""Hold N idle keep-alive TLS connections to 127.0.0.1:PORT, for
bench/reconnect.sh IDLE=N: each connection makes one check-in
(GET /device/v1/manifest?seq=1 with the device token) and then stays
open and silent, as a device that keeps its connection between polls.
Prints "open N" once all are up, then waits until killed.

    idle_conns.py PORT N TOKEN
"""
import socket
import ssl
import sys
import time


def main():
    port, n, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the bench's throwaway certificate
    request = ("GET /device/v1/manifest?seq=1 HTTP/1.1\r\nHost: bench\r\n"
               "Authorization: Bearer %s\r\n\r\n" % token).encode()
    held = []
    for _ in range(n):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(request)
        answer = s.recv(4096)
        if not answer.startswith(b"HTTP/1.1 2"):
            sys.exit("unexpected answer: %r" % answer[:80])
        held.append(s)
    print("open", len(held), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
