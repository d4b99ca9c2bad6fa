        # Wrong: close() instead of shutdown(SHUT_WR): the socket is gone before the replies come
        conn.sendall(b"".join(line + b"\n" for line in lines))
        conn.close()
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
        return data.removesuffix(b"\n").split(b"\n") if data else []
