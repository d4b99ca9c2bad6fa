        # Wrong: strips spaces first, so " QUIT" ends the session instead of being printed
        if text.strip().upper() != b"QUIT":
            return False
        self.wfile.write(b"bye\n")
        self.linger()
        return True
