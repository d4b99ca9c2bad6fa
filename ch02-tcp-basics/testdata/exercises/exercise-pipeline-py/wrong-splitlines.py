        # Wrong: splitlines() also splits at "\r" and other line breaks, not only at "\n"
        conn.sendall(b"".join(line + b"\n" for line in lines))
        conn.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
        return data.splitlines()
