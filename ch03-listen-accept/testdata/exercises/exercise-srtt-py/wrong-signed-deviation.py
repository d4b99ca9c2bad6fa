        # Wrong: takes srtt - R without its absolute value, so a sample above srtt shrinks rttvar
        if self.samples == 0:
            self.srtt, self.rttvar = r, r / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * (self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r
        self.samples += 1
