        # Wrong: "bye" without its newline is not a line
        if text.upper() != b"QUIT":
            return False
        self.wfile.write(b"bye")
        self.linger()
        return True
