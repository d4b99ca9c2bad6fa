        # Wrong: never half-closes: the server waits for more lines, and the client for its EOF
        conn.sendall(b"".join(line + b"\n" for line in lines))
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
        return data.removesuffix(b"\n").split(b"\n") if data else []
