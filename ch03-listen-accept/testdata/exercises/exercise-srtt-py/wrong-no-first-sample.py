        # Wrong: smooths the first sample too, so srtt starts at R/8 instead of R
        self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
        self.srtt = 0.875 * self.srtt + 0.125 * r
        self.samples += 1
