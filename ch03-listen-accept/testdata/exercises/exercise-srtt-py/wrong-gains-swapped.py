        # Wrong: swaps the gains: srtt moves by 1/4 of the difference and rttvar by 1/8
        if self.samples == 0:
            self.srtt, self.rttvar = r, r / 2
        else:
            self.rttvar = 0.875 * self.rttvar + 0.125 * abs(self.srtt - r)
            self.srtt = 0.75 * self.srtt + 0.25 * r
        self.samples += 1
