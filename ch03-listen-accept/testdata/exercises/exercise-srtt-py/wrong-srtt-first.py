        # Wrong: updates srtt first, so rttvar measures the distance to the new srtt, not the old one
        if self.samples == 0:
            self.srtt, self.rttvar = r, r / 2
        else:
            self.srtt = 0.875 * self.srtt + 0.125 * r
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
        self.samples += 1
