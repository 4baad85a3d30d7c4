<?xml version="1.0" encoding="utf-8"?>
<!--
  SharePoint calendar feed -> neutral reservations (nexuslims).

  Input: the Atom feed of a calendar list from _vti_bin/ListData.svc, fetched with
  $expand=CreatedBy,UserName (or a single Atom entry). Output: one <reservation> per
  <entry>, in this shape (empty or missing elements are left out of the record):

    <reservations>
      <reservation>
        <id/>                   the list item's Id
        <title/>                the record title
        <start/> <end/>         wall-clock time on the SharePoint server (as in the feed);
                                a value with an offset or Z is taken as written
        <updated/>              when the item was last changed
        <experimenter>          once per person; shown as "name (username)"
          <name/> <username/>
        </experimenter>
        <motivation/>
        <sample id="">          at most one; id optional (default: derived from <url>)
          <name/> <description/> <elements/>   (elements: symbols separated by spaces or commas)
        </sample>
        <project> <name/> <project_id/> <ref/> </project>
        <category/>             the calendar category (kept for logs, not in the record)
        <url/>                  the link back to the reservation (summary/@ref)
      </reservation>
    </reservations>

  Parameters passed by nexuslims: calendar_url (the instrument's calendar_url column,
  may be empty), api_url (the instrument's feed URL) and instrument (its pid).

  A site whose calendar has other columns copies this file, edits it and points
  NX_SHAREPOINT_XSLT at the copy. XSLT 1.0 only; document() and file access are denied.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:a="http://www.w3.org/2005/Atom"
    xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices"
    xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
    exclude-result-prefixes="a d m">

  <xsl:output method="xml" encoding="utf-8" indent="yes"/>

  <xsl:param name="calendar_url" select="''"/>
  <xsl:param name="api_url" select="''"/>
  <xsl:param name="instrument" select="''"/>

  <xsl:template match="/">
    <reservations>
      <xsl:apply-templates select="a:feed/a:entry | a:entry"/>
    </reservations>
  </xsl:template>

  <xsl:template match="a:entry">
    <xsl:variable name="p" select="a:content/m:properties"/>
    <!-- The person the slot was booked for; whoever created the item when not given. -->
    <xsl:variable name="booked"
        select="a:link[@title='UserName']/m:inline//a:entry/a:content/m:properties"/>
    <xsl:variable name="creator"
        select="a:link[@title='CreatedBy']/m:inline//a:entry/a:content/m:properties"/>
    <reservation>
      <id><xsl:value-of select="normalize-space($p/d:Id)"/></id>
      <title>
        <xsl:choose>
          <xsl:when test="normalize-space($p/d:TitleOfExperiment)">
            <xsl:value-of select="$p/d:TitleOfExperiment"/>
          </xsl:when>
          <xsl:when test="normalize-space($p/d:Title)">
            <xsl:value-of select="$p/d:Title"/>
          </xsl:when>
          <xsl:otherwise>
            <xsl:value-of select="a:title"/>
          </xsl:otherwise>
        </xsl:choose>
      </title>
      <start><xsl:value-of select="normalize-space($p/d:StartTime)"/></start>
      <end><xsl:value-of select="normalize-space($p/d:EndTime)"/></end>
      <updated><xsl:value-of select="normalize-space(a:updated)"/></updated>
      <xsl:choose>
        <xsl:when test="$booked">
          <xsl:apply-templates select="$booked" mode="person"/>
        </xsl:when>
        <xsl:otherwise>
          <xsl:apply-templates select="$creator" mode="person"/>
        </xsl:otherwise>
      </xsl:choose>
      <motivation><xsl:value-of select="$p/d:ExperimentPurpose"/></motivation>
      <xsl:if test="normalize-space($p/d:SampleDetails)">
        <sample>
          <name/>
          <description><xsl:value-of select="$p/d:SampleDetails"/></description>
          <elements/>
        </sample>
      </xsl:if>
      <xsl:if test="normalize-space($p/d:ProjectID)">
        <project>
          <name/>
          <project_id><xsl:value-of select="$p/d:ProjectID"/></project_id>
          <ref/>
        </project>
      </xsl:if>
      <category><xsl:value-of select="$p/d:CategoryValue"/></category>
      <url>
        <xsl:choose>
          <!-- The item's display form, as NexusLIMS 1.x linked it: readable in a browser. -->
          <xsl:when test="contains($calendar_url, 'calendar.aspx') and normalize-space($p/d:Id)">
            <xsl:value-of select="concat(substring-before($calendar_url, 'calendar.aspx'),
                                         'DispForm.aspx?ID=', normalize-space($p/d:Id))"/>
          </xsl:when>
          <xsl:when test="normalize-space(a:id)">
            <xsl:value-of select="normalize-space(a:id)"/>
          </xsl:when>
          <xsl:when test="a:link[@rel='edit']/@href">
            <xsl:value-of select="concat(ancestor-or-self::*[@xml:base][1]/@xml:base,
                                         a:link[@rel='edit']/@href)"/>
          </xsl:when>
        </xsl:choose>
      </url>
    </reservation>
  </xsl:template>

  <xsl:template match="m:properties" mode="person">
    <experimenter>
      <name><xsl:value-of select="normalize-space(d:Name)"/></name>
      <username>
        <xsl:choose>
          <xsl:when test="normalize-space(d:UserName)">
            <xsl:value-of select="normalize-space(d:UserName)"/>
          </xsl:when>
          <xsl:otherwise>
            <xsl:value-of select="normalize-space(d:Account)"/>
          </xsl:otherwise>
        </xsl:choose>
      </username>
    </experimenter>
  </xsl:template>

</xsl:stylesheet>
