        # Wrong: one recv() is not every reply: it returns what has arrived so far
        conn.sendall(b"".join(line + b"\n" for line in lines))
        conn.shutdown(socket.SHUT_WR)
        data = conn.recv(65536)
        return data.removesuffix(b"\n").split(b"\n") if data else []
