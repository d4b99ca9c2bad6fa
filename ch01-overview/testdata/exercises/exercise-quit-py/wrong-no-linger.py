        # Wrong: says bye and returns: the server then closes with the client's bytes unread, a reset
        if text.upper() != b"QUIT":
            return False
        self.wfile.write(b"bye\n")
        return True
