-- Enhanced scans' findings (Amazon Inspector's shape, JSON array); NULL for a basic scan,
-- whose findings stay in `findings`.
ALTER TABLE image_scans ADD COLUMN enhanced_findings TEXT;
