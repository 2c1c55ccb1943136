"""relay.py HOST PORT: qemu's guestfwd=...-cmd: helper.  qemu starts it
per guest connection with the connection on stdin/stdout; it copies both
ways to HOST:PORT (the fake's loopback listeners) until either side is
done.  Run with Debian's /usr/bin/python3."""
import os
import select
import socket
import sys

sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
sock.settimeout(None)
fin, fout = sys.stdin.fileno(), sys.stdout.fileno()
open_in = True
while True:
    r, _, _ = select.select([sock, fin] if open_in else [sock], [], [], 120)
    if not r:
        break
    if fin in r:
        data = os.read(fin, 65536)
        if data:
            sock.sendall(data)
        else:
            open_in = False
            sock.shutdown(socket.SHUT_WR)
    if sock in r:
        data = sock.recv(65536)
        if not data:
            break
        while data:
            n = os.write(fout, data)
            data = data[n:]
sock.close()
