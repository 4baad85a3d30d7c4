<?xml version="1.0" encoding="UTF-8"?>
<!--
  experiment.xsl: render a nexuslims Experiment record as one readable HTML page.

  XSLT 1.0 (works in browsers, lxml and xsltproc). Parameter "base" is put in
  front of dataset locations and preview paths, which records hold relative to
  the data root (give it as a string parameter, e.g. https://data.example/).
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:nx="https://data.nist.gov/od/dm/nexus/experiment/v1.0"
                exclude-result-prefixes="nx">
  <xsl:output method="html" encoding="UTF-8" indent="yes"
              doctype-system="about:legacy-compat"/>
  <xsl:param name="base" select="''"/>

  <xsl:template match="/nx:Experiment">
    <html>
      <head>
        <title><xsl:value-of select="nx:title"/></title>
        <style>
          body { font-family: sans-serif; margin: 2em; max-width: 70em; }
          table { border-collapse: collapse; margin: .5em 0; }
          td, th { border: 1px solid #ccc; padding: .2em .5em; text-align: left; }
          .warning { color: #a40; }
          .dataset { border-top: 1px solid #ddd; margin-top: 1em; }
          img.preview { max-width: 300px; float: right; margin-left: 1em; }
          dt { font-weight: bold; }
        </style>
      </head>
      <body>
        <h1><xsl:value-of select="nx:title"/></h1>
        <xsl:apply-templates select="nx:summary"/>
        <xsl:if test="nx:sample">
          <h2>Samples</h2>
          <ul><xsl:apply-templates select="nx:sample"/></ul>
        </xsl:if>
        <xsl:if test="nx:project">
          <h2>Projects</h2>
          <ul>
            <xsl:for-each select="nx:project">
              <li>
                <xsl:value-of select="nx:name"/>
                <xsl:if test="nx:project_id"> (<xsl:value-of select="nx:project_id"/>)</xsl:if>
              </li>
            </xsl:for-each>
          </ul>
        </xsl:if>
        <xsl:apply-templates select="nx:acquisitionActivity"/>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="nx:summary">
    <dl class="summary">
      <dt>Experimenter</dt>
      <dd>
        <xsl:for-each select="nx:experimenter">
          <xsl:value-of select="."/><xsl:if test="position() != last()">, </xsl:if>
        </xsl:for-each>
      </dd>
      <dt>Instrument</dt>
      <dd><xsl:value-of select="nx:instrument"/> (<xsl:value-of select="nx:instrument/@pid"/>)</dd>
      <dt>Reservation</dt>
      <dd>
        <xsl:value-of select="nx:reservationStart"/> to <xsl:value-of select="nx:reservationEnd"/>
        <xsl:if test="@ref"> (<a href="{@ref}">reservation</a>)</xsl:if>
      </dd>
      <xsl:if test="nx:motivation">
        <dt>Motivation</dt>
        <dd><xsl:value-of select="nx:motivation"/></dd>
      </xsl:if>
    </dl>
  </xsl:template>

  <xsl:template match="nx:sample">
    <li id="sample-{@id}">
      <strong><xsl:value-of select="nx:name"/></strong> [<xsl:value-of select="@id"/>]
      <xsl:for-each select="nx:description"><p><xsl:value-of select="."/></p></xsl:for-each>
      <xsl:if test="nx:elements/*">
        Elements:
        <xsl:for-each select="nx:elements/*">
          <xsl:value-of select="local-name()"/><xsl:if test="position() != last()">, </xsl:if>
        </xsl:for-each>
      </xsl:if>
    </li>
  </xsl:template>

  <xsl:template match="nx:acquisitionActivity">
    <section class="activity">
      <h2>Activity <xsl:value-of select="@seqno"/></h2>
      <p>
        Started <xsl:value-of select="nx:startTime"/>
        <xsl:if test="nx:sampleID">
          on sample <a href="#sample-{nx:sampleID}"><xsl:value-of select="nx:sampleID"/></a>
        </xsl:if>
      </p>
      <xsl:if test="nx:setup/nx:param">
        <h3>Setup (shared by all datasets)</h3>
        <xsl:call-template name="values"><xsl:with-param name="rows" select="nx:setup/nx:param"/></xsl:call-template>
      </xsl:if>
      <xsl:apply-templates select="nx:dataset"/>
    </section>
  </xsl:template>

  <xsl:template match="nx:dataset">
    <div class="dataset">
      <xsl:for-each select="nx:preview">
        <img class="preview" src="{concat($base, .)}" alt="preview"/>
      </xsl:for-each>
      <h3><xsl:value-of select="nx:name"/></h3>
      <p>
        <xsl:value-of select="@type"/>
        <xsl:if test="nx:format">, <xsl:value-of select="nx:format"/></xsl:if>;
        <a href="{concat($base, nx:location)}"><xsl:value-of select="nx:location"/></a>
      </p>
      <xsl:for-each select="nx:description"><p class="warning"><xsl:value-of select="."/></p></xsl:for-each>
      <xsl:if test="nx:meta">
        <xsl:call-template name="values"><xsl:with-param name="rows" select="nx:meta"/></xsl:call-template>
      </xsl:if>
    </div>
  </xsl:template>

  <xsl:template name="values">
    <xsl:param name="rows"/>
    <table>
      <tr><th>Name</th><th>Value</th></tr>
      <xsl:for-each select="$rows">
        <tr>
          <td><xsl:value-of select="@name"/><xsl:if test="@unit"> (<xsl:value-of select="@unit"/>)</xsl:if></td>
          <td>
            <xsl:if test="@warning = 'true' or @warning = '1'">
              <xsl:attribute name="class">warning</xsl:attribute>
              <xsl:attribute name="title">value may be unreliable</xsl:attribute>
            </xsl:if>
            <xsl:value-of select="."/>
          </td>
        </tr>
      </xsl:for-each>
    </table>
  </xsl:template>
</xsl:stylesheet>
