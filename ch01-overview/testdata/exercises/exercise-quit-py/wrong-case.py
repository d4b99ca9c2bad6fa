        # Wrong: only QUIT in capitals ends the session; quit and Quit are printed
        if text != b"QUIT":
            return False
        self.wfile.write(b"bye\n")
        self.linger()
        return True
